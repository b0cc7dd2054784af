"""Multi-file work through the whole chain: Neovim, the plugin, the real host and the local
provider server answering with SEARCH/REPLACE blocks. What the editor holds is what is sent (an
unsaved change included), the host checks the blocks against exactly that, and the proposal
changes all three buffers, one undo each, writing nothing."""
import json

import pytest

from conftest import start_editor, wait_for
from test_actions import KEY, config
from test_multifile import buf_lines, press, proposal
from test_run import wait_idle

A = "int old_name(int a, int b)\n{\n  return a + b;\n}\n"
H = "int old_name(int a, int b);\n"
M = "#include \"util.h\"\n\nint main(void)\n{\n  return old_name(1, 2) - 3;\n}\n"


def block(path, search, replace):
    return "%s\n```c\n<<<<<<< SEARCH\n%s=======\n%s>>>>>>> REPLACE\n```\n" % (
        path, search, replace)


@pytest.fixture
def ed(host_bin, server, tmp_path, monkeypatch):
    monkeypatch.setenv("FRUGAL_E2E_KEY", KEY)
    editor = start_editor()
    editor.server = server
    cfg = config(server)
    cfg["editor"] = {"host_cmd": [host_bin]}
    cfg["ledger"] = {"path": str(tmp_path / "ledger.jsonl")}
    editor.setup(cfg)
    (tmp_path / "Makefile").write_text("all:\n")
    for name, text in (("util.c", A), ("util.h", H), ("main.c", M)):
        (tmp_path / name).write_text(text)
    editor.tmp = tmp_path
    editor.nvim.command("cd " + str(tmp_path))
    editor.lua("vim.o.hidden = true")
    for name in ("main.c", "util.h", "util.c"):
        editor.nvim.command("edit " + str(tmp_path / name))
    yield editor
    try:
        editor.nvim.command("qa!", async_=True)
    except Exception:
        pass
    editor.nvim.close()


def test_a_rename_across_three_buffers_through_the_real_host(ed):
    # An unsaved change in main.c: the block must match the editor's text, not the disk's.
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 5, 5, false, {'  /* kept */'})",
           str(ed.tmp / "main.c"))
    ed.server.script({"text": "- rename old_name to sum\n\n" +
                      block("util.c", "int old_name(int a, int b)\n", "int sum(int a, int b)\n") +
                      "\n" + block("util.h", "int old_name(int a, int b);\n",
                                   "int sum(int a, int b);\n") + "\n" +
                      block("main.c", "  return old_name(1, 2) - 3;\n  /* kept */\n",
                            "  return sum(1, 2) - 3;\n  /* kept */\n")})
    ed.nvim.command("Frugal refactor-files buffers rename old_name to sum")
    p = wait_for(lambda: proposal(ed), 15, "the multi-file proposal")
    wait_idle(ed)
    body = json.dumps(ed.server.requests()[-1])
    assert "<<<<<<< SEARCH" in body and "/* kept */" in body
    press(ed, p["buf"], "a")
    wait_for(lambda: buf_lines(ed, str(ed.tmp / "main.c"))[4] == "  return sum(1, 2) - 3;", 5,
             "main.c changed")
    assert buf_lines(ed, str(ed.tmp / "util.c"))[0] == "int sum(int a, int b)"
    assert buf_lines(ed, str(ed.tmp / "util.h")) == ["int sum(int a, int b);"]
    assert buf_lines(ed, str(ed.tmp / "main.c"))[5] == "  /* kept */"
    # Nothing was written, and one undo in each buffer takes its change back.
    assert (ed.tmp / "util.h").read_text() == H
    ed.lua("vim.api.nvim_buf_call(vim.fn.bufnr(...), function() vim.cmd('undo') end)",
           str(ed.tmp / "util.h"))
    assert buf_lines(ed, str(ed.tmp / "util.h")) == ["int old_name(int a, int b);"]


def test_a_block_that_does_not_match_changes_nothing_anywhere(ed):
    ed.server.script({"text": block("util.c", "int old_name(int a, int b)\n",
                                    "int sum(int a, int b)\n") + "\n" +
                      block("main.c", "  return no_such_line();\n", "  return sum(1, 2);\n")})
    ed.nvim.command("Frugal refactor-files buffers rename old_name to sum")
    wait_for(lambda: ed.server.requests(), 10, "the request")
    wait_idle(ed)
    assert proposal(ed) is None
    warned = [n["msg"] for n in ed.notes(3)]
    assert any("block 2 (main.c)" in m and "nothing to apply" in m for m in warned), warned
    assert buf_lines(ed, str(ed.tmp / "util.c"))[0] == "int old_name(int a, int b)"
    assert buf_lines(ed, str(ed.tmp / "main.c"))[4] == "  return old_name(1, 2) - 3;"

