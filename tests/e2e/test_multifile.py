"""Multi-file work in the editor, against the fake host (tests/e2e/fake_host.py), which answers
with the result shapes of the contract: the scope the user chose and only that (file=, buffers,
args, quickfix, changed; an unsaved buffer sent as the editor holds it; a missing file refused
before anything is sent), one proposal for a change across files applied all or nothing, and
review-all findings in the quickfix list."""
import os
import shutil
import subprocess

import pytest

from conftest import wait_for
from test_cost import call
from test_run import wait_idle


def write(path, lines):
    path.write_text("".join(l + "\n" for l in lines))
    return str(path)


A = ["int total(int *v, int n)", "{", "\treturn sum(v, n);", "}"]
B = ["#include \"a.h\"", "", "int use(void)", "{", "\treturn total(0, 0);", "}"]
C = ["void more(void)", "{", "\ttotal(0, 1);", "}"]


@pytest.fixture
def ed(editor, fake_host_cmd, tmp_path):
    editor.setup({"editor": {"host_cmd": fake_host_cmd}})
    editor.tmp = tmp_path
    editor.a = write(tmp_path / "a.c", A)
    editor.b = write(tmp_path / "b.c", B)
    editor.c = write(tmp_path / "c.c", C)
    editor.nvim.command("cd " + str(tmp_path))
    editor.nvim.command("edit " + editor.a)
    return editor


def sent(ed):
    return call(ed, "last_run", {})[1]


def runs(ed):
    return call(ed, "count", {"method": "run"})[1]


def run_and_wait(ed, cmd):
    before = runs(ed)
    ed.nvim.command(cmd)
    wait_for(lambda: runs(ed) > before, 10, "the run to be sent")  # `changed` asks git first
    wait_idle(ed)
    return sent(ed)


def files_of(params):
    out = []
    for f in params.get("files") or []:
        out.append(f if isinstance(f, str) else f["path"])
    return out


def buf_lines(ed, path):
    return ed.lua("""
      for _, b in ipairs(vim.api.nvim_list_bufs()) do
        if vim.api.nvim_buf_get_name(b) == ... and vim.api.nvim_buf_is_loaded(b) then
          return vim.api.nvim_buf_get_lines(b, 0, -1, false)
        end
      end
      return nil""", path)


# The scope ----------------------------------------------------------------------------------

def test_no_other_file_is_sent_unless_named_even_with_buffers_listed(ed):
    ed.nvim.command("badd " + ed.b)
    ed.nvim.command("badd " + ed.c)
    params = run_and_wait(ed, "Frugal refactor-files rename total to sum_all")
    assert "files" not in params or not params["files"]
    assert params["instruction"] == "rename total to sum_all"


def test_buffers_sends_the_listed_buffers_loaded_ones_with_their_text(ed):
    ed.nvim.command("badd " + ed.c)  # listed, not loaded
    ed.nvim.command("edit " + ed.b)
    ed.nvim.command("normal! Gofoo();")  # unsaved
    ed.nvim.command("edit " + ed.a)
    params = run_and_wait(ed, "Frugal refactor-files buffers rename total")
    files = {f["path"]: f for f in params["files"]}
    assert sorted(files) == sorted([ed.b, ed.c])
    # b.c is loaded: what the editor holds, the unsaved line too, not what the disk has.
    assert files[ed.b]["text"] == "\n".join(B + ["foo();"]) + "\n"
    assert files[ed.b]["from"] == "buffers"
    assert "text" not in files[ed.c] and files[ed.c]["from"] == "buffers"
    # A word after the instruction began is the instruction's.
    params = run_and_wait(ed, "Frugal refactor-files rename total in buffers")
    assert not params.get("files")
    assert params["instruction"] == "rename total in buffers"


def test_file_named_is_sent_as_a_path_or_with_its_text_when_loaded(ed):
    params = run_and_wait(ed, "Frugal design file=" + ed.b)
    assert params["files"] == [ed.b]
    ed.nvim.command("edit " + ed.c)
    ed.nvim.command("edit " + ed.a)
    params = run_and_wait(ed, "Frugal design file=" + ed.c)
    assert params["files"] == [{"path": ed.c, "text": "\n".join(C) + "\n"}]


def test_a_missing_file_is_refused_before_anything_is_sent(ed):
    before = call(ed, "count", {"method": "run"})[1]
    ed.nvim.command("Frugal refactor-files file=nonexistent.c rename it")
    msg = ed.wait_error("nonexistent.c")[0]
    assert msg == "frugal: file=nonexistent.c: no such file; nothing sent"
    ed.nvim.command("Frugal preview design file=" + str(ed.tmp))
    ed.wait_error("not a regular file")
    assert call(ed, "count", {"method": "run"})[1] == before
    assert call(ed, "count", {"method": "preview"})[1] == 0


def test_args_and_quickfix_keywords(ed):
    ed.nvim.command("args %s %s" % (ed.a, ed.b))
    params = run_and_wait(ed, "Frugal review-all args")
    assert files_of(params) == [ed.b]
    ed.lua("vim.fn.setqflist({ { filename = ..., lnum = 1, text = 'x' } })", ed.c)
    params = run_and_wait(ed, "Frugal review-all quickfix args")
    assert sorted(files_of(params)) == sorted([ed.b, ed.c])


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")
def test_changed_asks_git_without_waiting_and_sends_the_changed_files(ed):
    git(ed.tmp, "init", "-q", ".")
    git(ed.tmp, "add", "a.c", "b.c", "c.c")
    git(ed.tmp, "commit", "-qm", "first")
    (ed.tmp / "c.c").write_text("changed\n")
    write(ed.tmp / "new.c", ["new"])
    params = run_and_wait(ed, "Frugal refactor-files changed tidy up")
    assert sorted(files_of(params)) == sorted([ed.c, str(ed.tmp / "new.c")])
    assert all(f["from"] == "changed" for f in params["files"])


def test_changed_outside_git_or_without_git_is_one_clear_error(ed, tmp_path):
    if shutil.which("git") is None:
        # Where git is not installed (the test roots), that is the error.
        ed.nvim.command("Frugal refactor-files changed tidy up")
        msg = ed.wait_error("git")[0]
        assert msg == "frugal: changed: git is not installed (not on PATH); nothing sent"
    else:
        probe = subprocess.run(["git", "-C", str(tmp_path), "rev-parse"], capture_output=True)
        if probe.returncode == 0:
            pytest.skip("the temporary directory is inside a git repository")
        ed.nvim.command("Frugal refactor-files changed tidy up")
        msg = ed.wait_error("not in a git repository")[0]
        assert msg.startswith("frugal: changed: ") and msg.endswith("; nothing sent")
    # The command line's PATH without git: the same error, nothing sent either way.
    ed.lua("vim.env.PATH = '/nonexistent'")
    ed.nvim.command("Frugal refactor-files changed tidy up")
    wait_for(lambda: len([m for m in ed.errors() if "git is not installed" in m]) >= 1, 10,
             "the error without git")
    assert call(ed, "count", {"method": "run"})[1] == 0


def test_completion_offers_the_keywords_and_paths(ed):
    words = ed.lua("return require('frugal').complete('', 'Frugal design ', 14)")
    for w in ("buffers", "args", "quickfix", "changed", "file="):
        assert w in words
    lead = "file=" + str(ed.tmp) + "/b"
    got = ed.lua("return require('frugal').complete(...)", lead, "Frugal design " + lead,
                 len("Frugal design " + lead))
    assert got == ["file=" + ed.b]


# The multi-file proposal --------------------------------------------------------------------

RENAMED_A = ["int sum_all(int *v, int n)"]
RENAMED_B = ["\treturn sum_all(0, 0);"]
RENAMED_C = ["\tsum_all(0, 1);"]


def rename_files(ed, extra=None):
    files = [
        {"path": ed.a, "new": False,
         "edits": [{"start_line": 1, "end_line": 1, "replacement": RENAMED_A[0] + "\n"}]},
        {"path": os.path.relpath(ed.b, str(ed.tmp)), "new": False,
         "edits": [{"start_line": 5, "end_line": 5, "replacement": RENAMED_B[0] + "\n"},
                   {"start_line": 3, "end_line": 3, "replacement": "int use_it(void)\n"}]},
        {"path": ed.c, "new": False,
         "edits": [{"start_line": 3, "end_line": 3, "replacement": RENAMED_C[0] + "\n"}]},
    ]
    files += extra or []
    return {"events": [{"kind": "start"}, {"kind": "text", "text": "Renamed.\n"}],
            "result": {"output": "markdown", "files": files}}


def proposal(ed):
    return ed.lua("""
      for _, p in pairs(require('frugal.proposal')._open) do
        return { buf = p.buf, lines = vim.api.nvim_buf_get_lines(p.buf, 0, -1, false) }
      end
      return nil""")


def wait_proposal(ed):
    return wait_for(lambda: proposal(ed), 10, "the multi-file proposal")


def press(ed, buf, keys):
    win = ed.lua("return vim.fn.win_findbuf(...)[1]", buf)
    ed.lua("vim.api.nvim_set_current_win(...)", win)
    ed.nvim.input(keys)
    ed.nvim.command("sleep 50m")


def open_three(ed):
    ed.lua("vim.o.hidden = true")
    for p in (ed.c, ed.b, ed.a):
        ed.nvim.command("edit " + p)


def test_a_rename_across_three_buffers_is_accepted_one_undo_each(ed):
    open_three(ed)
    call(ed, "script", rename_files(ed))
    ed.nvim.command("Frugal refactor-files file=%s file=%s rename total" % (ed.b, ed.c))
    p = wait_proposal(ed)
    text = "\n".join(p["lines"])
    assert p["lines"][0].startswith("frugal refactor-files: 3 files")
    for name in ("a.c", "b.c", "c.c"):
        assert "+++ " in text and name in text
    assert "+" + RENAMED_B[0] in p["lines"] and "-\treturn total(0, 0);" in p["lines"]
    press(ed, p["buf"], "a")
    wait_for(lambda: buf_lines(ed, ed.c) == ["void more(void)", "{", RENAMED_C[0], "}"], 5,
             "the third file changed")
    assert buf_lines(ed, ed.a)[0] == RENAMED_A[0]
    assert buf_lines(ed, ed.b) == ["#include \"a.h\"", "", "int use_it(void)", "{",
                                   RENAMED_B[0], "}"]
    # Nothing written; one undo in each buffer puts it back whole.
    assert open(ed.b).read() == "\n".join(B) + "\n"
    infos = [n["msg"] for n in ed.notes(2)]
    assert "frugal: refactor-files applied to 3 files (not saved; u undoes each)" in infos
    for path, orig in ((ed.a, A), (ed.b, B), (ed.c, C)):
        ed.lua("vim.api.nvim_buf_call(vim.fn.bufnr(...), function() vim.cmd('undo') end)", path)
        assert buf_lines(ed, path) == orig


def test_files_not_loaded_are_loaded_and_a_new_file_is_an_unwritten_buffer(ed):
    new = str(ed.tmp / "sub" / "d.c")
    script = rename_files(ed, [{"path": "sub/d.c", "new": True, "edits": [
        {"start_line": 1, "end_line": 0, "replacement": "int d;\n"}]}])
    call(ed, "script", script)
    ed.nvim.command("Frugal refactor-files file=%s file=%s rename total" % (ed.b, ed.c))
    p = wait_proposal(ed)
    assert "+++ sub/d.c (new)" in "\n".join(p["lines"]) or any(
        l.endswith("d.c (new)") for l in p["lines"])
    press(ed, p["buf"], "a")
    wait_for(lambda: buf_lines(ed, new) == ["int d;"], 5, "the new file's buffer")
    assert buf_lines(ed, ed.c)[2] == RENAMED_C[0]
    assert not os.path.exists(new)
    assert ed.lua("return vim.bo[vim.fn.bufnr(...)].modified", new) is True
    assert open(ed.c).read() == "\n".join(C) + "\n"


def test_when_the_third_file_changed_since_the_request_nothing_changes_anywhere(ed):
    open_three(ed)
    script = rename_files(ed)
    script["events"].insert(1, {"wait": True})
    call(ed, "script", script)
    ed.nvim.command("Frugal refactor-files file=%s file=%s rename total" % (ed.b, ed.c))
    wait_for(lambda: call(ed, "count", {"method": "run"})[1] == 1, 5, "the run")
    # The third file's line the edit is for is changed while the answer is on its way.
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 2, 3, false, { '\\ttotal(9, 9);' })",
           ed.c)
    call(ed, "release", {})
    p = wait_proposal(ed)
    assert any(l.startswith("NOTE: ") and "c.c changed since the request" in l
               for l in p["lines"])
    press(ed, p["buf"], "a")
    err = ed.wait_error("nothing applied")[0]
    assert "c.c changed since the request" in err
    assert buf_lines(ed, ed.a) == A and buf_lines(ed, ed.b) == B
    assert buf_lines(ed, ed.c)[2] == "\ttotal(9, 9);"
    assert proposal(ed) is not None  # it stays, to be read or rejected


def test_edits_after_the_proposal_lines_above_are_followed_its_own_text_refuses(ed):
    open_three(ed)
    call(ed, "script", rename_files(ed))
    ed.nvim.command("Frugal refactor-files file=%s file=%s rename total" % (ed.b, ed.c))
    p = wait_proposal(ed)
    # Lines added above a region move it: it is followed.
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 0, false, { '// top' })", ed.b)
    press(ed, p["buf"], "a")
    wait_for(lambda: buf_lines(ed, ed.a)[0] == RENAMED_A[0], 5, "the accepted proposal")
    assert buf_lines(ed, ed.b)[3] == "int use_it(void)"
    assert buf_lines(ed, ed.b)[5] == RENAMED_B[0]
    for path in (ed.a, ed.b, ed.c):
        ed.lua("vim.api.nvim_buf_call(vim.fn.bufnr(...), function() vim.cmd('undo') end)", path)
    assert buf_lines(ed, ed.b) == ["// top"] + B
    # A region's own text changed after the proposal came: refused whole.
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 1, false, {})", ed.b)
    script = rename_files(ed)
    call(ed, "script", script)
    ed.nvim.command("Frugal refactor-files file=%s file=%s rename total" % (ed.b, ed.c))
    p = wait_proposal(ed)
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 2, 3, false, { 'x' })", ed.c)
    press(ed, p["buf"], "a")
    assert "c.c changed since the request" in ed.wait_error("nothing applied")[0]
    assert buf_lines(ed, ed.a) == A and buf_lines(ed, ed.b) == B


def test_reject_and_the_side_by_side_view_of_a_file(ed):
    open_three(ed)
    call(ed, "script", rename_files(ed))
    ed.nvim.command("Frugal refactor-files file=%s file=%s rename total" % (ed.b, ed.c))
    p = wait_proposal(ed)
    row = p["lines"].index("+++ b.c (proposed)") + 1
    win = ed.lua("return vim.fn.win_findbuf(...)[1]", p["buf"])
    ed.lua("vim.api.nvim_win_set_cursor(...)", win, [row + 1, 0])
    press(ed, p["buf"], "d")
    sides = ed.lua("""
      local out = {}
      for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
        local b = vim.api.nvim_win_get_buf(w)
        out[#out + 1] = { lines = vim.api.nvim_buf_get_lines(b, 0, -1, false),
                          modifiable = vim.bo[b].modifiable }
      end
      return out""")
    assert sides[0]["lines"] == B
    assert sides[1]["lines"][4] == RENAMED_B[0] and sides[1]["modifiable"] is False
    ed.nvim.input("d")  # back to the diff; `x` has no hunk to drop in a whole proposal
    press(ed, p["buf"], "x")
    assert "frugal: a multi-file proposal is accepted or rejected whole" in [
        n["msg"] for n in ed.notes(2)]
    ed.nvim.input("r")
    wait_for(lambda: proposal(ed) is None, 5, "the rejection")
    assert buf_lines(ed, ed.b) == B and buf_lines(ed, ed.a) == A
    assert "frugal: refactor-files proposal rejected; nothing changed" in [
        n["msg"] for n in ed.notes(2)]


def test_malformed_files_are_a_problem_not_a_proposal(ed):
    call(ed, "script", {"events": [{"kind": "start"}], "result": {"files": [
        {"path": ed.a, "edits": [{"start_line": 3, "end_line": 1, "replacement": ""}]}]}})
    ed.nvim.command("Frugal refactor-files rename")
    wait_idle(ed)
    warns = [n["msg"] for n in ed.notes(3)]
    assert any("files without valid edits" in w and "no valid region" in w for w in warns)
    assert proposal(ed) is None


# review-all into the quickfix list ----------------------------------------------------------

def test_review_all_findings_go_to_the_quickfix_list_with_file_line_and_type(ed):
    call(ed, "script", {"events": [{"kind": "start"}], "result": {
        "output": "review", "chunks": 3, "findings": [
            {"path": ed.a, "line": 3, "end_line": 4, "severity": "error", "message": "bad"},
            {"path": "b.c", "line": 5, "end_line": 5, "severity": "warning", "message": "hm"},
            {"path": ed.c, "line": 1, "severity": "note", "message": "nit"}]}})
    win = ed.lua("return vim.api.nvim_get_current_win()")
    ed.nvim.command("Frugal review-all file=%s file=%s" % (ed.b, ed.c))
    wait_idle(ed)
    qf = ed.lua("""
      local out = {}
      for _, i in ipairs(vim.fn.getqflist()) do
        out[#out + 1] = { name = vim.api.nvim_buf_get_name(i.bufnr), lnum = i.lnum,
                          end_lnum = i.end_lnum, type = i.type, text = i.text }
      end
      return out""")
    assert [(q["name"], q["lnum"], q["type"], q["text"]) for q in qf] == [
        (ed.a, 3, "E", "[frugal] bad"), (ed.b, 5, "W", "[frugal] hm"),
        (ed.c, 1, "N", "[frugal] nit")]
    assert [q["end_lnum"] for q in qf] == [4, 0, 0]
    assert ed.lua("return vim.api.nvim_get_current_win()") == win
    title = ed.lua("return vim.fn.getqflist({ title = 1 }).title")
    assert title == "frugal review-all: 3 files (3 chunks)"
    infos = [n["msg"] for n in ed.notes(2)]
    assert any("3 findings (3 chunks) in the quickfix list" in m for m in infos)


def test_a_selection_stays_the_scope_of_the_current_file(ed):
    params = run_and_wait(ed, "2,3Frugal refactor-files file=%s tidy" % ed.b)
    assert (params["sel_start"], params["sel_end"]) == (2, 3)
    assert params["files"] == [ed.b] and params["path"] == ed.a
