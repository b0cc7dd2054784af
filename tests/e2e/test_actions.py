"""Actions end to end: a real headless Neovim, the real host, and the local provider server
(tests/server/provider_server.py) speaking the OpenAI Responses, Chat Completions and Anthropic
Messages APIs on 127.0.0.1. Every request really goes over HTTP; nothing reaches the internet."""
import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from conftest import REPO, start_editor, wait_for
from test_run import buffer, go_source, press, stream_text, wait_idle, wait_proposal, windows

SERVER = os.path.join(REPO, "tests", "server", "provider_server.py")
KEY = "sk-test-e2e-0000abcd"

SOURCE = [
    "#include <stdio.h>",
    "",
    "/* caf\u00e9: the total of a and b */",
    "static int add(int a, int b)",
    "{",
    "\treturn a - b;",
    "}",
    "",
    "int main(void)",
    "{",
    "\tprintf(\"%d\\n\", add(1, 2));",
    "\treturn 0;",
    "}",
]
FIXED_FN = "static int add(int a, int b)\n{\n\treturn a + b;\n}\n"
# the scope of add() starts at its doc comment, so the answer carries it too
FIXED_SCOPE = SOURCE[2] + "\n" + FIXED_FN


class Server:
    def __init__(self, tmp_path):
        port_file = tmp_path / "port"
        self.p = subprocess.Popen([sys.executable, SERVER, "--port-file", str(port_file),
                                   "--exit-on-stdin-eof"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 10,
                 "the provider server")
        self.url = "http://127.0.0.1:%s" % port_file.read_text().strip()

    def post(self, path, payload):
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def script(self, *items):
        self.post("/__script", list(items))

    def requests(self):
        with urllib.request.urlopen(self.url + "/__requests", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()


def config(server, mini="openai", full="anthropic"):
    def tier(provider, model):
        base = server.url if provider == "anthropic" else server.url + "/v1"
        return {"provider": provider, "model": model, "base_url": base,
                "api_key_env": "FRUGAL_E2E_KEY"}
    return {"tiers": {"mini": tier(mini, "gpt-5.4-mini"), "full": tier(full, "claude-sonnet-4-5")}}


@pytest.fixture
def ed(host_bin, server, tmp_path, monkeypatch):
    monkeypatch.setenv("FRUGAL_E2E_KEY", KEY)
    editor = start_editor()
    editor.server = server
    cfg = config(server)
    cfg["editor"] = {"host_cmd": [host_bin]}
    editor.setup(cfg)
    (tmp_path / "Makefile").write_text("all:\n")
    path = tmp_path / "calc.c"
    path.write_text("\n".join(SOURCE) + "\n")
    editor.nvim.command("edit " + str(path))
    editor.path = str(path)
    yield editor
    try:
        editor.nvim.command("qa!", async_=True)
    except Exception:
        pass
    editor.nvim.close()


def cursor(ed, line):
    ed.nvim.current.window.cursor = (line, 0)


def test_explain_streams_the_whole_answer_from_the_responses_api(ed):
    ed.server.script({"words": 3000, "events": 400})
    cursor(ed, 6)
    ed.nvim.command("Frugal explain")
    with urllib.request.urlopen(ed.server.url + "/__answer?words=3000", timeout=10) as r:
        want = r.read().decode()
    wait_idle(ed)
    got = stream_text(ed)
    assert got.rstrip("\n") == want.rstrip("\n")
    # plain while it streams (no highlighting per batch), markdown once complete
    wait_for(lambda: windows(ed, "markdown")[0]["ft"] == "markdown", 5, "markdown highlighting")
    req = ed.server.requests()[-1]
    assert req["path"] == "/v1/responses"
    body = req["body"]
    assert body["model"] == "gpt-5.4-mini" and body["stream"] is True
    assert body["prompt_cache_key"].startswith("frugal:")
    assert req["headers"]["authorization"].endswith("abcd")
    # the focused package, not the whole file: main() is not sent
    sent = json.dumps(body)
    assert "return a - b" in sent and "printf" not in sent
    assert ed.errors() == []


def test_fix_goes_to_mini_and_the_accepted_edit_is_one_undo_step(ed):
    ed.server.script({"text": "The operator is wrong.\n\n```c\n" + FIXED_SCOPE + "```\n"})
    cursor(ed, 6)
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    assert any(l == "-\treturn a - b;" for l in prop["lines"])
    assert any(l == "+\treturn a + b;" for l in prop["lines"])
    assert buffer(ed) == SOURCE
    press(ed, prop["win"], "a")
    wait_for(lambda: buffer(ed) != SOURCE, 5, "the edit")
    assert buffer(ed) == SOURCE[:3] + FIXED_FN.rstrip("\n").split("\n") + SOURCE[7:]
    go_source(ed)
    ed.nvim.feedkeys("u", "x")
    assert buffer(ed) == SOURCE


def test_forced_full_review_uses_anthropic_and_fills_the_quickfix_list(ed):
    ed.server.script({"text": "4: [warning] the doc comment says total, the body subtracts\n"
                              "6: [error] returns a - b instead of a + b\n"})
    cursor(ed, 6)
    ed.nvim.command("Frugal! review")
    wait_idle(ed)
    qf = wait_for(lambda: ed.lua("return vim.fn.getqflist()"), 10, "the quickfix list")
    assert [(e["lnum"], "a - b" in e["text"]) for e in qf] == [(4, False), (6, True)]
    req = ed.server.requests()[-1]
    assert req["path"] == "/v1/messages"
    assert req["headers"]["anthropic-version"] == "2023-06-01"
    assert req["headers"]["x-api-key"].endswith("abcd")
    assert req["body"]["model"] == "claude-sonnet-4-5"


def test_rate_limit_is_retried_and_reported(ed):
    ed.server.script({"status": 429, "headers": {"retry-after": "0"}},
                     {"text": "All good after the retry."})
    cursor(ed, 6)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    assert "All good after the retry." in stream_text(ed)
    assert len([r for r in ed.server.requests() if r["path"] == "/v1/responses"]) == 2
    # The retry was shown in the status, not as a message; :Frugal messages has it.
    assert not any("429" in n["msg"] for n in ed.notes())
    assert any("429" in m["text"] for m in ed.lua("return require('frugal.msg').history"))


def test_bad_key_error_names_the_variable_and_not_the_key(ed):
    ed.server.script({"status": 401, "error_type": "invalid_request_error",
                      "error_code": "invalid_api_key", "error_message": "Incorrect API key"})
    cursor(ed, 6)
    ed.nvim.command("Frugal explain")
    msg = ed.wait_error("401")[0]
    assert "FRUGAL_E2E_KEY" in msg
    assert KEY not in msg and KEY[-8:] not in msg


def test_cancel_stops_a_stalled_stream(ed):
    ed.server.script({"words": 400, "events": 40, "fault": "stall_ms:5000"})
    cursor(ed, 6)
    ed.nvim.command("Frugal explain")
    wait_for(lambda: stream_text(ed), 10, "the first text")
    ed.nvim.command("Frugal cancel")
    wait_idle(ed)
    assert ed.errors() == []


def test_tests_open_a_new_test_file_following_the_project(ed, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_util.c").write_text(
        "#include <cmocka.h>\n\nstatic void util_works(void **state) {}\n")
    ed.server.script({"text": "```c\n#include <cmocka.h>\n\nstatic void add_adds(void **s)\n{\n"
                              "  assert_int_equal(add(1, 2), 3);\n}\n```\n"})
    cursor(ed, 6)
    ed.nvim.command("Frugal tests")
    prop = wait_proposal(ed)
    press(ed, prop["win"], "a")
    target = str(tmp_path / "tests" / "test_calc.c")
    wait_for(lambda: ed.lua("return vim.fn.bufnr(...)", target) > 0, 5, "the new test file")
    lines = ed.lua("return vim.api.nvim_buf_get_lines(vim.fn.bufnr(...), 0, -1, false)", target)
    assert "  assert_int_equal(add(1, 2), 3);" in lines
    assert not os.path.exists(target)  # proposed, never written behind the user's back
    body = json.dumps(ed.server.requests()[-1]["body"])
    assert "cmocka" in body and "tests/test_calc.c" in body


@pytest.mark.parametrize("action,instruction,marker", [
    ("refactor", "use an early return", "Refactor"),
    ("docs", None, "documentation"),
    ("implement", None, "mplement"),
])
def test_edit_actions_send_their_instruction_and_propose_a_diff(ed, action, instruction, marker):
    new_scope = SOURCE[2] + "\n" + FIXED_FN.replace("return a + b;", "return b + a;")
    ed.server.script({"text": "```c\n" + new_scope + "```\n"})
    cursor(ed, 6)
    ed.nvim.command("Frugal %s%s" % (action, " " + instruction if instruction else ""))
    prop = wait_proposal(ed)
    assert any(l == "+\treturn b + a;" for l in prop["lines"])
    press(ed, prop["win"], "r")  # reject: nothing changes
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    assert buffer(ed) == SOURCE
    body = json.dumps(ed.server.requests()[-1]["body"])
    assert marker in body
    if instruction:
        assert instruction in body


def test_lines_added_above_while_the_answer_streams_do_not_misplace_the_edit(ed):
    ed.server.script({"text": "```c\n" + FIXED_SCOPE + "```\n", "chunk_chars": 4,
                      "fault": "stall_ms:700"})
    cursor(ed, 6)
    ed.nvim.command("Frugal fix")
    wait_for(lambda: stream_text(ed), 10, "the first text")
    # the user keeps working above the function while the answer streams
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 1, 1, false, {'#include <stdlib.h>'})",
           ed.path)
    prop = wait_proposal(ed)
    press(ed, prop["win"], "a")
    want = SOURCE[:1] + ["#include <stdlib.h>"] + SOURCE[1:3] + \
        FIXED_FN.rstrip("\n").split("\n") + SOURCE[7:]
    wait_for(lambda: buffer(ed) == want, 5, "the edit at the moved region")


def test_an_unusable_mini_answer_escalates_once_to_full(ed):
    ed.server.script({"text": "I would fix the operator."},
                     {"text": "```c\n" + FIXED_SCOPE + "```\n"})
    cursor(ed, 6)
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    assert any(l == "+\treturn a + b;" for l in prop["lines"])
    first, second = ed.server.requests()[-2:]
    assert first["path"] == "/v1/responses" and first["body"]["model"] == "gpt-5.4-mini"
    assert second["path"] == "/v1/messages" and second["body"]["model"] == "claude-sonnet-4-5"
    # the full tier is told why the first answer was refused
    assert "could not be used: no fenced code block" in json.dumps(second["body"])
    # Said in the answer window (its header and a marker), kept in :Frugal messages; the done
    # message counts both attempts.
    assert any("asking claude-sonnet-4-5" in m["text"]
               for m in ed.lua("return require('frugal.msg').history"))
    done = [n["msg"] for n in ed.notes(2) if n["msg"].startswith("frugal: fix done")]
    assert done and "(both attempts)" in done[-1]


AGAIN = """
local done = false
local id = require('frugal.host')._state.next_id
_G.again_result = nil
require('frugal.host').call('again', { id = id, instruction = ... }, function(err, result)
  _G.again_result = { err = err, text = result and result.text, turn = result and result.turn }
end)
"""


def test_again_continues_the_conversation_with_every_earlier_turn(ed):
    ed.server.script({"text": "It adds a and b."}, {"text": "Because of the minus sign."},
                     {"text": "Third."})
    cursor(ed, 6)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    ed.lua(AGAIN, "why is the result wrong?")
    got = wait_for(lambda: ed.lua("return _G.again_result"), 10, "the follow-up")
    assert got.get("err") is None and got["text"] == "Because of the minus sign." and got["turn"] == 2
    body = ed.server.requests()[-1]["body"]
    assert [m["role"] for m in body["input"]] == ["user", "assistant", "user"]
    assert body["input"][1]["content"] == "It adds a and b."
    assert body["input"][2]["content"] == "why is the result wrong?"
    # the prompt's prefix is byte for byte the first request's: the provider's cache hits
    first = ed.server.requests()[-2]["body"]
    assert body["instructions"] == first["instructions"]
    assert body["input"][0] == first["input"][0]


def test_a_mini_conversation_stops_at_max_turns(ed, host_bin):
    cfg = config(ed.server)
    cfg["editor"] = {"host_cmd": [host_bin]}
    cfg["conversation"] = {"max_turns": 1}
    ed.setup(cfg)
    ed.server.script({"text": "It adds."})
    cursor(ed, 6)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    ed.lua(AGAIN, "and then?")
    got = wait_for(lambda: ed.lua("return _G.again_result"), 10, "the refusal")
    assert "reached 1 turns" in got["err"] and ":Frugal! again" in got["err"]


def test_a_multi_file_preview_does_not_call_its_package_a_share_of_the_file(ed, tmp_path):
    (tmp_path / "other.c").write_text("int other(int x)\n{\n  return add(x, 1);\n}\n")
    cursor(ed, 6)
    ed.nvim.command("Frugal preview refactor-files rename add to sum file="
                    + str(tmp_path / "other.c"))
    text = "\n".join(ed.wait_preview())
    assert re.search(r"^Package:\s+[\d,]+ tokens, with the files in scope; this file whole: "
                     r"[\d,]+ tokens$", text, re.M), text
    assert "% of the file" not in text


def test_preview_puts_the_price_first_and_tells_the_budget_and_where_tests_go(ed, tmp_path):
    cfg = config(ed.server)
    cfg["budget"] = {"daily_usd": 0.083}
    cfg["ledger"] = {"path": str(tmp_path / "ledger.jsonl")}
    cfg["editor"] = {"host_cmd": ed.lua("return require('frugal.host').command()")}
    ed.setup(cfg)
    cursor(ed, 6)
    ed.nvim.command("Frugal preview tests")
    lines = ed.wait_preview()
    assert lines[0] == "frugal preview: tests"
    assert lines[1].startswith("Tier:      mini (gpt-5.4-mini)")
    assert lines[2].startswith("Estimate:  ")
    assert lines[3].startswith("  on mini (gpt-5.4-mini): $")
    assert any(l.startswith("  saving against full: ") for l in lines[4:6])
    text = " ".join(" ".join(l.split()) for l in lines)
    assert "Budget: $0.0000 spent today, $0." in text and "(daily budget $0.083)" in text
    assert "Tests go: into the new file " in text and "calc" in text.split("Tests go:")[1]
    # Long lines are wrapped: nothing above the context table is wider than the screen but a
    # path too long to break.
    top = [l for l in lines[:[i for i, l in enumerate(lines) if l.startswith("Context (")][0]]]
    assert [l for l in top if len(l) > 80 and max(len(w) for w in l.split()) < 40] == []
