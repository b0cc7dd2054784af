"""Running actions (`:Frugal {action}`) against the fake host (tests/e2e/fake_host.py), which
streams scripted events: the answer window, edit proposals and how they are applied, review
findings, test files, cancelling, errors and progress."""
import os
import re

import pytest

from conftest import wait_for

# A buffer whose lines outside any edited region hold what a careless edit would damage: tabs,
# trailing blanks, multi-byte characters, an empty line, CR bytes.
ORIGINAL = [
    "#include <stdio.h>",
    "",
    "/* caf\u00e9 \u65e5\u672c */",
    "static int add(int a, int b)",
    "{",
    "\treturn a - b;   ",
    "}",
    "",
    "int main(void)\r",
    "{",
    "\treturn add(1, 2);",
    "}",
]
REPLACEMENT = "static int add(int a, int b)\n{\n\treturn a + b; /* fixed \u00e9 */\n}\n"
FIXED = ORIGINAL[:3] + REPLACEMENT.rstrip("\n").split("\n") + ORIGINAL[7:]

# Stream and proposal windows, and what a test reads from them.
SCRATCH = """
local out = {}
for _, win in ipairs(vim.api.nvim_list_wins()) do
  local buf = vim.api.nvim_win_get_buf(win)
  if vim.api.nvim_buf_get_name(buf):match('^frugal://') then
    out[#out + 1] = {
      win = win, buf = buf,
      ft = vim.api.nvim_buf_get_option(buf, 'filetype'),
      lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false),
    }
  end
end
return out
"""


@pytest.fixture
def ed(editor, fake_host_cmd, tmp_path):
    editor.setup({"editor": {"host_cmd": fake_host_cmd}})
    path = tmp_path / "calc.c"
    path.write_bytes(("\n".join(ORIGINAL) + "\n").encode())
    editor.nvim.command("edit " + str(path))
    editor.path = str(path)
    return editor


def script(ed, **kw):
    ed.lua("require('frugal.host').call('script', ...)", kw)


def release(ed):
    ed.lua("require('frugal.host').call('release', {})")


def windows(ed, ft=None):
    """Scratch windows of filetype `ft`; the answer window is `frugal-stream` while text arrives
    and `markdown` once complete, so "markdown" finds it in both states."""
    wins = ed.lua(SCRATCH)
    want = ("markdown", "frugal-stream") if ft == "markdown" else (ft,)
    return [w for w in wins if ft is None or w["ft"] in want]


def stream_text(ed):
    wins = windows(ed, "markdown")
    return "\n".join(wins[0]["lines"]) if wins else None


def wait_stream(ed, predicate, what="the streamed text"):
    return wait_for(lambda: (lambda t: t if t is not None and predicate(t) else None)(
        stream_text(ed)), 10, what)


def wait_proposal(ed):
    return wait_for(lambda: windows(ed, "diff"), 10, "the proposal window")[0]


def in_flight(ed):
    return ed.lua("return package.loaded['frugal.run'] and require('frugal.run').in_flight() "
                  "or 0")


def wait_idle(ed):
    wait_for(lambda: in_flight(ed) == 0, 10, "the run to end")


def buffer(ed):
    return ed.lua("return vim.api.nvim_buf_get_lines(vim.fn.bufnr(...), 0, -1, false)", ed.path)


def press(ed, win, keys):
    ed.nvim.api.set_current_win(win)
    ed.nvim.feedkeys(ed.nvim.replace_termcodes(keys), "x")


def go_source(ed):
    ed.nvim.command("call win_gotoid(bufwinid(%s))" % ed.lua("return vim.fn.bufnr(...)",
                                                                ed.path))


def fix_script(**kw):
    s = {"events": [{"kind": "start"}, {"kind": "text", "text": "```c\n"},
                    {"kind": "text", "text": REPLACEMENT + "```\n"}],
         "result": {"output": "replace",
                    "edit": {"start_line": 4, "end_line": 7, "replacement": REPLACEMENT}}}
    s.update(kw)
    return s


# Streaming ---------------------------------------------------------------------------------

ANSWER = ("# `add`\n\nIt subtracts: the operator is wrong.\nA line cut in two, "
          "then caf\u00e9 and \u65e5\u672c\u8a9e \U0001F600.\n\n- one\n- two\n")


def chunks_of(text, cuts):
    data = text.encode()
    out, prev = [], 0
    for c in cuts + [len(data)]:
        out.append(data[prev:c])
        prev = c
    return out


def test_explain_streams_every_byte_into_a_side_window_that_keeps_the_focus(ed):
    data = ANSWER.encode()
    e_acute = data.index("\u00e9".encode())
    nihon = data.index("\u65e5".encode())
    emoji = data.index("\U0001F600".encode())
    # Cuts inside lines, right after newlines, inside 2-, 3- and 4-byte characters.
    cuts = [3, 9, 10, 30, e_acute + 1, nihon + 1, nihon + 2, emoji + 1, emoji + 3,
            len(data) - 4]
    events = [{"kind": "start"}]
    for i, chunk in enumerate(chunks_of(ANSWER, cuts)):
        events.append({"kind": "text", "hex": chunk.hex()})
        if i == 4:
            events.append({"wait": True})
    script(ed, events=events)
    source = ed.nvim.current.window.handle
    ed.nvim.command("Frugal explain")
    # Paused mid-stream, one byte into "é": what is shown is a clean prefix of the answer.
    partial = wait_stream(ed, lambda t: len(t) >= e_acute - 5, "the first chunks")
    assert ANSWER.startswith(partial)
    assert len(partial.encode()) == e_acute
    assert ed.nvim.current.window.handle == source
    status = ed.lua("return require('frugal').status()")
    assert re.match(r"^frugal: mini gpt-5\.4-mini \d+\.\ds$", status), status
    release(ed)
    wait_idle(ed)
    assert stream_text(ed) == ANSWER
    win = windows(ed, "markdown")[0]
    opts = ed.lua("""
      local buf = ...
      return {
        buftype = vim.api.nvim_buf_get_option(buf, 'buftype'),
        bufhidden = vim.api.nvim_buf_get_option(buf, 'bufhidden'),
        modifiable = vim.api.nvim_buf_get_option(buf, 'modifiable'),
        float = vim.api.nvim_win_get_config(vim.fn.bufwinid(buf)).relative ~= '',
      }""", win["buf"])
    assert opts == {"buftype": "nofile", "bufhidden": "wipe", "modifiable": False,
                    "float": False}
    assert ed.nvim.current.window.handle == source
    assert ed.lua("return require('frugal').status()") == ""
    assert ed.errors() == [] and ed.notes(3) == []  # no deprecation warning on any version
    done = [n["msg"] for n in ed.notes(2)]
    assert any(m.startswith("frugal: explain done in ") and "gpt-5.4-mini" in m for m in done)
    # The request carried the preview's params plus the buffer's changedtick.
    params = ed.lua("""
      _G.params = nil
      require('frugal.host').call('last_run', {}, function(_, r) _G.params = r end)""")
    params = wait_for(lambda: ed.lua("return _G.params"), 5, "the params")
    assert params["action"] == "explain" and params["path"] == ed.path
    assert isinstance(params["changedtick"], int) and params["changedtick"] > 0
    assert params["filetype"] == "c" and params["line"] == 1


def test_cursor_follows_the_end_only_until_the_user_moves_it(ed):
    events = [{"kind": "start"}, {"kind": "text", "text": "one\ntwo\nthree\n"}, {"wait": True},
              {"kind": "text", "text": "four\nfive\n"}]
    script(ed, events=events)
    ed.nvim.command("Frugal explain")
    wait_stream(ed, lambda t: "three" in t)
    win = windows(ed, "markdown")[0]["win"]
    assert ed.nvim.api.win_get_cursor(win)[0] == 4
    ed.nvim.api.win_set_cursor(win, (1, 0))
    release(ed)
    wait_idle(ed)
    assert ed.nvim.api.win_get_cursor(win)[0] == 1

    script(ed, events=events)
    ed.nvim.command("Frugal explain")
    wait_stream(ed, lambda t: "three" in t)
    win2 = windows(ed, "markdown")[0]["win"]
    assert win2 == win  # the finished answer's window is reused
    release(ed)
    wait_idle(ed)
    assert ed.nvim.api.win_get_cursor(win2)[0] == 6


def test_frugal_run_from_the_answer_window_is_about_the_code(ed):
    script(ed, events=[{"kind": "text", "text": "first\n"}])
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    ed.nvim.api.set_current_win(windows(ed, "markdown")[0]["win"])
    script(ed, events=[{"kind": "text", "text": "second\n"}])
    ed.nvim.command("Frugal docs")
    wait_idle(ed)
    ed.lua("""
      _G.params = nil
      require('frugal.host').call('last_run', {}, function(_, r) _G.params = r end)""")
    params = wait_for(lambda: ed.lua("return _G.params"), 5, "the params")
    assert (params["action"], params["path"], params["bufnr"]) == \
        ("docs", ed.path, ed.lua("return vim.fn.bufnr(...)", ed.path))


def test_float_style_streams_into_a_float(editor, fake_host_cmd):
    editor.setup({"editor": {"host_cmd": fake_host_cmd, "stream": {"style": "float"}}})
    script(editor, events=[{"kind": "text", "text": "floating\n"}])
    editor.nvim.command("Frugal ask what is this")
    wait_for(lambda: in_flight(editor) == 0 and stream_text(editor), 10, "the answer")
    win = windows(editor, "markdown")[0]["win"]
    assert editor.lua("return vim.api.nvim_win_get_config(...).relative", win) == "editor"
    assert stream_text(editor) == "floating\n"


# Edit proposals ----------------------------------------------------------------------------

def test_fix_proposal_accepted_replaces_exactly_the_region_and_one_undo_restores(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    lines = prop["lines"]
    assert lines[0].startswith("frugal fix: ") and "lines 4-7" in lines[0]
    hunk = lines[lines.index("@@ -4,4 +4,4 @@"):]
    assert "-\treturn a - b;   " in hunk and "+\treturn a + b; /* fixed \u00e9 */" in hunk
    assert buffer(ed) == ORIGINAL  # nothing changes before the user says so
    press(ed, prop["win"], "a")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    assert buffer(ed) == FIXED
    assert ed.errors() == [] and ed.notes(3) == []
    go_source(ed)
    ed.nvim.feedkeys("u", "x")
    assert buffer(ed) == ORIGINAL
    # The file on disk was never written.
    with open(ed.path, "rb") as f:
        assert f.read() == ("\n".join(ORIGINAL) + "\n").encode()


def test_enter_accepts_and_reject_changes_nothing(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "r")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    assert buffer(ed) == ORIGINAL
    assert ed.lua("return #vim.api.nvim_buf_get_extmarks(vim.fn.bufnr(...), "
                  "require('frugal.run').ns, 0, -1, {})", ed.path) == 0
    script(ed, **fix_script())
    go_source(ed)
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "<CR>")
    wait_for(lambda: buffer(ed) == FIXED, 5, "the fix to be applied")


def test_lines_edited_above_and_below_while_streaming_move_the_region(ed):
    s = fix_script()
    s["events"].insert(2, {"wait": True})
    script(ed, **s)
    ed.nvim.command("Frugal fix")
    wait_stream(ed, lambda t: t.startswith("```c"))
    ed.lua("""
      local buf = vim.fn.bufnr(...)
      vim.api.nvim_buf_set_lines(buf, 0, 0, false, { '// one', '// two' })
      vim.api.nvim_buf_set_lines(buf, 3, 4, false, {})          -- the empty line 2 goes
      vim.api.nvim_buf_set_lines(buf, -1, -1, false, { '// end' })""", ed.path)
    edited = buffer(ed)
    assert edited == ["// one", "// two"] + ORIGINAL[:1] + ORIGINAL[2:] + ["// end"]
    release(ed)
    prop = wait_proposal(ed)
    assert "@@ -5,4 +5,4 @@" in prop["lines"]  # shown where the region is now
    # And after the proposal is shown, lines added above move it again (extmarks).
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 0, false, { '// zero' })",
           ed.path)
    edited = buffer(ed)
    press(ed, prop["win"], "a")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    expected = edited[:5] + REPLACEMENT.rstrip("\n").split("\n") + edited[9:]
    assert buffer(ed) == expected
    go_source(ed)
    ed.nvim.feedkeys("u", "x")
    assert buffer(ed) == edited


def test_typing_around_the_region_while_streaming_is_respected(ed):
    s = fix_script()
    s["events"].insert(2, {"wait": True})
    script(ed, **s)
    ed.nvim.command("Frugal fix")
    wait_stream(ed, lambda t: t.startswith("```c"))
    go_source(ed)
    # Typed like a user would: a line opened right above the region, one right below it, and
    # the first line deleted.
    keys = "4GOabove\x1b" "8Gobelow\x1b" "ggdd"
    ed.nvim.feedkeys(keys, "xt")
    edited = buffer(ed)
    assert edited == ORIGINAL[1:3] + ["above"] + ORIGINAL[3:7] + ["below"] + ORIGINAL[7:]
    release(ed)
    press(ed, wait_proposal(ed)["win"], "a")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    assert ed.errors() == []
    assert buffer(ed) == edited[:3] + REPLACEMENT.rstrip("\n").split("\n") + edited[7:]


def test_region_edited_while_streaming_is_refused_and_nothing_changes(ed):
    s = fix_script()
    s["events"].insert(2, {"wait": True})
    script(ed, **s)
    ed.nvim.command("Frugal fix")
    wait_stream(ed, lambda t: t.startswith("```c"))
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 5, 6, false, { '\treturn 0;' })",
           ed.path)
    edited = buffer(ed)
    release(ed)
    press(ed, wait_proposal(ed)["win"], "a")
    ed.wait_error("the code changed since the request; run the action again")
    assert buffer(ed) == edited


def test_region_edited_after_the_proposal_is_refused(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    # Typed at the end of the region's last line: the end mark does not follow it.
    ed.lua("""
      local buf = vim.fn.bufnr(...)
      vim.api.nvim_buf_set_text(buf, 6, 1, 6, 1, { ' // done' })""", ed.path)
    edited = buffer(ed)
    assert edited[6] == "} // done"
    press(ed, prop["win"], "a")
    ed.wait_error("the code changed since the request")
    assert buffer(ed) == edited
    assert windows(ed, "diff")  # the proposal stays to be read


def test_side_by_side_view_and_accept_from_it(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    press(ed, prop["win"], "d")
    assert len(ed.nvim.tabpages) == 2
    diff_wins = [w for w in ed.nvim.current.tabpage.windows if w.options["diff"]]
    assert len(diff_wins) == 2
    assert diff_wins[0].buffer[:] == ORIGINAL[3:7]
    assert diff_wins[1].buffer[:] == FIXED[3:7]
    ed.nvim.feedkeys("a", "x")
    wait_for(lambda: buffer(ed) == FIXED, 5, "the fix to be applied")
    assert len(ed.nvim.tabpages) == 1
    assert not windows(ed, "diff")
    assert ed.errors() == [] and ed.notes(3) == []


def test_a_pending_proposal_is_not_taken_over_by_the_next_answer(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    script(ed, events=[{"kind": "text", "text": "meanwhile\n"}])
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    assert stream_text(ed) == "meanwhile\n"
    assert windows(ed, "diff")[0]["win"] == prop["win"]
    press(ed, prop["win"], "a")
    wait_for(lambda: buffer(ed) == FIXED, 5, "the fix to be applied")


def test_missing_host_is_reported_without_leaving_an_empty_window(editor, tmp_path):
    editor.setup({"editor": {"host_cmd": ["/nonexistent/frugal"]}})
    editor.nvim.command("edit " + str(tmp_path / "x.c"))
    editor.nvim.command("Frugal explain")
    assert "/nonexistent/frugal" in editor.wait_error("host not found")[0]
    wait_idle(editor)
    assert not windows(editor)
    assert len(editor.nvim.windows) == 1


def test_problem_is_shown_with_the_raw_answer_and_nothing_to_accept(ed):
    script(ed, events=[{"kind": "text", "text": "I think the bug is the minus sign."}],
           result={"output": "replace", "edit": None,
                   "problem": "the model's answer has no code block"})
    ed.nvim.command("Frugal fix")
    wait_idle(ed)
    text = wait_stream(ed, lambda t: "no code block" in t)
    assert text.startswith("I think the bug is the minus sign.\n")
    assert "frugal: the model's answer has no code block (nothing to apply)" in text
    warns = [n["msg"] for n in ed.notes(3)]
    assert any("no code block" in m for m in warns)
    assert not windows(ed, "diff")
    assert buffer(ed) == ORIGINAL


# Review and tests --------------------------------------------------------------------------

def test_review_findings_go_to_the_quickfix_list(ed):
    script(ed, events=[{"kind": "text", "text": "two findings\n"}],
           result={"output": "review", "findings": [
               {"line": 6, "message": "subtracts instead of adding"},
               {"line": 11, "message": "magic numbers"}]})
    ed.nvim.command("Frugal review")
    wait_idle(ed)
    qf = wait_for(lambda: ed.lua("return vim.fn.getqflist()"), 5, "the quickfix list")
    got = [(ed.lua("return vim.api.nvim_buf_get_name(...)", q["bufnr"]), q["lnum"], q["text"])
           for q in qf]
    assert got == [(ed.path, 6, "[frugal] subtracts instead of adding"),
                   (ed.path, 11, "[frugal] magic numbers")]
    assert ed.lua("return vim.fn.getqflist({winid = 0}).winid") != 0  # :copen


def test_review_without_findings_says_so(ed):
    script(ed, events=[{"kind": "text", "text": "all good\n"}],
           result={"output": "review", "findings": []})
    ed.nvim.command("Frugal review")
    wait_for(lambda: [n for n in ed.notes(2) if "no findings" in n["msg"]], 5, "the message")
    assert ed.lua("return #vim.fn.getqflist()") == 0


def test_tests_for_a_new_file_open_an_unsaved_buffer(ed, tmp_path):
    target = tmp_path / "tests" / "test_calc.c"
    content = "#include \"calc.h\"\n\nvoid test_add(void) { assert(add(1, 2) == 3); }\n"
    script(ed, events=[{"kind": "text", "text": "```c\n" + content + "```\n"}],
           result={"output": "tests", "tests": {
               "path": str(target), "exists": False, "append": False, "content": content,
               "framework": "plain", "why": "no tests folder yet"}})
    ed.nvim.command("Frugal tests")
    prop = wait_proposal(ed)
    assert "+void test_add(void) { assert(add(1, 2) == 3); }" in prop["lines"]
    assert "why: no tests folder yet" in prop["lines"]
    press(ed, prop["win"], "a")
    wait_for(lambda: ed.nvim.current.buffer.name == str(target), 5, "the new file")
    assert ed.nvim.current.buffer[:] == content.rstrip("\n").split("\n")
    assert ed.nvim.current.buffer.options["modified"]
    assert not target.exists()
    ed.nvim.command("write")
    assert target.read_text() == content
    assert buffer(ed) == ORIGINAL


def test_tests_for_an_existing_file_are_appended_as_one_undo_step(ed, tmp_path):
    target = tmp_path / "test_calc.c"
    old = "#include \"calc.h\"\n\nvoid test_one(void) {}\n"
    target.write_text(old)
    block = "\nvoid test_add(void) { assert(add(1, 2) == 3); }\n"
    script(ed, events=[{"kind": "text", "text": block}],
           result={"output": "tests", "tests": {
               "path": str(target), "exists": True, "append": True, "content": block,
               "framework": "plain", "why": "extends the existing file"}})
    ed.nvim.command("Frugal tests")
    prop = wait_proposal(ed)
    assert " void test_one(void) {}" in prop["lines"]  # context: the file's end
    press(ed, prop["win"], "a")
    bufnr = wait_for(lambda: ed.lua("return vim.fn.bufnr(...)", str(target)) > 0
                     and ed.lua("return vim.fn.bufnr(...)", str(target)), 5, "the buffer")
    lines = ed.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", bufnr)
    assert lines == (old + block).rstrip("\n").split("\n")
    assert target.read_text() == old  # never written behind the user's back
    ed.nvim.command("call win_gotoid(bufwinid(%d))" % bufnr)
    ed.nvim.feedkeys("u", "x")
    lines = ed.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", bufnr)
    assert lines == old.rstrip("\n").split("\n")


# Cancel, errors, retries, progress ---------------------------------------------------------

def test_cancel_mid_stream_keeps_the_text_and_says_so_quietly(ed):
    script(ed, events=[{"kind": "start"}, {"kind": "text", "text": "partial answer"}],
           hold=True)
    ed.nvim.command("Frugal explain")
    wait_stream(ed, lambda t: t == "partial answer")
    # A second request on the same buffer is refused, not queued.
    ed.nvim.command("Frugal docs")
    assert any("still running" in n["msg"] and "cancel" in n["msg"] for n in ed.notes(3))
    assert in_flight(ed) == 1
    ed.nvim.command("Frugal cancel")
    wait_idle(ed)
    infos = [n["msg"] for n in ed.notes(2)]
    assert "frugal: explain cancelled" in infos
    assert ed.errors() == []
    assert stream_text(ed) == "partial answer"
    assert ed.lua("return require('frugal').status()") == ""
    ed.nvim.command("Frugal cancel")
    assert "frugal: nothing to cancel" in [n["msg"] for n in ed.notes(2)]


def test_ctrl_c_and_q_in_the_answer_window_cancel(ed):
    script(ed, events=[{"kind": "text", "text": "streaming"}], hold=True)
    ed.nvim.command("Frugal explain")
    wait_stream(ed, lambda t: t == "streaming")
    press(ed, windows(ed, "markdown")[0]["win"], "<C-c>")
    wait_idle(ed)
    assert "frugal: explain cancelled" in [n["msg"] for n in ed.notes(2)]
    assert windows(ed, "markdown")  # <C-c> keeps the window

    go_source(ed)
    script(ed, events=[{"kind": "text", "text": "again"}], hold=True)
    ed.nvim.command("Frugal explain")
    wait_stream(ed, lambda t: t == "again")
    press(ed, windows(ed, "markdown")[0]["win"], "q")
    wait_idle(ed)
    assert not windows(ed)
    assert [n["msg"] for n in ed.notes(2)].count("frugal: explain cancelled") == 2


def test_error_reply_is_shown_and_the_window_keeps_what_arrived(ed):
    script(ed, events=[{"kind": "start"},
                       {"kind": "retry", "attempt": 1, "delay_ms": 2000,
                        "why": "429 rate limited (Retry-After: 2)"},
                       {"kind": "text", "text": "Half an ans"}],
           err="429 rate limited by openai: try again later",
           result={"text": "Half an answer"})
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    # A retry is no message (the status and the answer window's header say it while it lasts);
    # :Frugal messages keeps it.
    assert not [n for n in ed.notes() if "retrying" in n["msg"]]
    history = ed.lua("return vim.tbl_map(function(m) return m.text end, "
                     "require('frugal.msg').history)")
    assert "frugal: retrying in 2.0s: 429 rate limited (Retry-After: 2)" in history
    assert ed.wait_error("429 rate limited by openai")[0] == \
        "frugal: 429 rate limited by openai: try again later"
    # The reply's text completes what the events carried, and it is marked incomplete.
    assert stream_text(ed) == "Half an answer"
    marks = ed.lua("""
      for _, b in ipairs(vim.api.nvim_list_bufs()) do
        if vim.api.nvim_buf_get_name(b):match('frugal://%d+/explain$') then
          local ns = vim.api.nvim_create_namespace('frugal-incomplete')
          return vim.api.nvim_buf_get_extmarks(b, ns, 0, -1, { details = true })
        end
      end""")
    assert len(marks) == 1
    assert "incomplete: 429 rate limited" in marks[0][3]["virt_lines"][0][0][0]


def test_status_is_empty_before_during_nothing_and_after(ed):
    assert ed.lua("return require('frugal').status()") == ""
    assert ed.lua("return package.loaded['frugal.run'] == nil")
    script(ed, events=[{"wait": True}, {"kind": "start"}, {"wait": True},
                       {"kind": "text", "text": "x"}])
    ed.nvim.command("Frugal! explain")
    wait_for(lambda: ed.lua("return require('frugal').status()"), 5, "a status")
    assert re.match(r"^frugal: explain \d+\.\ds$", ed.lua("return require('frugal').status()"))
    release(ed)
    wait_for(lambda: "gpt-5.4 " in ed.lua("return require('frugal').status()"), 5,
             "the model in the status")
    assert re.match(r"^frugal: full gpt-5\.4 \d+\.\ds$",
                    ed.lua("return require('frugal').status()"))
    # The same in every window (the answer window's buffer, another buffer), and the answer
    # window's header says it too.
    st = ed.lua("""
      local a = require('frugal').status(vim.api.nvim_get_current_buf())
      local b = require('frugal').status(vim.api.nvim_create_buf(false, true))
      return { a = a:gsub('%d+%.%ds', 'T'), b = b:gsub('%d+%.%ds', 'T') }""")
    assert st["a"] == st["b"] == "frugal: full gpt-5.4 T"
    header = ed.lua("""
      for _, w in ipairs(vim.api.nvim_list_wins()) do
        local name = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w))
        if name:match('frugal://') then
          return vim.fn.has('nvim-0.8') == 1 and vim.wo[w].winbar or vim.wo[w].statusline
        end
      end""")
    assert " explain · full gpt-5.4 " in header
    # The spinner timer runs while the request does and stops after.
    assert ed.lua("return require('frugal.run')._state.timer ~= nil")
    release(ed)
    wait_idle(ed)
    assert ed.lua("return require('frugal').status()") == ""
    assert ed.lua("return require('frugal.run')._state.timer == nil")


def test_host_crash_during_a_run_ends_it_with_one_report(ed):
    script(ed, events=[{"kind": "text", "text": "before the crash"}], hold=True)
    ed.nvim.command("Frugal explain")
    wait_stream(ed, lambda t: t == "before the crash")
    ed.lua("require('frugal.host').call('crash', {code = 5})")
    ed.wait_error("exit code 5")
    wait_idle(ed)
    assert len(ed.errors()) == 1
    assert stream_text(ed) == "before the crash"


def test_the_proposal_title_follows_its_region_and_the_source_buffer_keys_act_on_it(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    assert "lines 4-7" in prop["lines"][0]
    # Two lines added above the region move it; the title says where it is now.
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 0, false, {'// a', '// b'})",
           ed.path)
    ed.lua("require('frugal.proposal')._render_all()")
    assert "lines 6-9" in windows(ed, "diff")[0]["lines"][0]
    # The source buffer has the documented keys while the proposal waits, and only then.
    go_source(ed)
    maps = ed.lua("return vim.tbl_map(function(m) return m.lhs end, "
                  "vim.api.nvim_buf_get_keymap(0, 'n'))")
    assert "\\a" in maps and "\\r" in maps and "\\d" in maps
    ed.nvim.input("\\r")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    assert any(n["msg"] == "frugal: fix proposal rejected; nothing changed" for n in ed.notes(2))
    maps = ed.lua("return vim.tbl_map(function(m) return m.lhs end, "
                  "vim.api.nvim_buf_get_keymap(0, 'n'))")
    assert "\\a" not in maps


def test_the_proposed_side_can_be_edited_and_a_hunk_taken_back_before_accepting(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    press(ed, prop["win"], "d")
    diff_wins = [w for w in ed.nvim.current.tabpage.windows if w.options["diff"]]
    assert ed.nvim.current.window == diff_wins[0]  # the original side: a, r, d work there
    right = diff_wins[1]
    assert right.buffer.options["modifiable"]
    # Edit the proposal: a comment added on its last line.
    ed.nvim.api.buf_set_lines(right.buffer, -2, -1, False, ["} /* checked */"])
    ed.nvim.feedkeys("a", "x")
    want = FIXED[:6] + ["} /* checked */"] + FIXED[7:]
    wait_for(lambda: buffer(ed) == want, 5, "the edited fix to be applied")
    assert len(ed.nvim.tabpages) == 1


def test_do_on_the_proposed_side_rejects_that_hunk(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    press(ed, prop["win"], "d")
    right = [w for w in ed.nvim.current.tabpage.windows if w.options["diff"]][1]
    ed.nvim.current.window = right
    ed.nvim.command("%diffget")  # every hunk taken back, as `do` does for one
    ed.nvim.input("<CR>")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    assert buffer(ed) == ORIGINAL


def test_x_drops_the_hunk_under_the_cursor_and_accept_applies_the_others(ed):
    changed = list(ORIGINAL)
    changed[0] = "#include <stdlib.h>"
    changed[10] = "\treturn add(2, 3);"
    replacement = "\n".join(changed) + "\n"
    script(ed, events=[{"kind": "start"}], result={
        "output": "replace",
        "edit": {"start_line": 1, "end_line": len(ORIGINAL), "replacement": replacement}})
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    assert len([l for l in prop["lines"] if l.startswith("@@")]) == 2
    first = [i for i, l in enumerate(prop["lines"]) if l.startswith("@@")][0]
    ed.nvim.api.win_set_cursor(prop["win"], (first + 2, 0))
    press(ed, prop["win"], "x")
    lines = windows(ed, "diff")[0]["lines"]
    assert len([l for l in lines if l.startswith("@@")]) == 1
    assert "-#include <stdio.h>" not in lines and "+\treturn add(2, 3);" in lines
    press(ed, prop["win"], "a")
    want = list(ORIGINAL)
    want[10] = "\treturn add(2, 3);"
    wait_for(lambda: buffer(ed) == want, 5, "the remaining hunk to be applied")


def test_R_in_an_incomplete_answer_sends_the_same_request_again(ed):
    script(ed, events=[{"kind": "start"}, {"kind": "text", "text": "Half"}],
           err="the provider closed the stream", result={"text": "Half"})
    ed.nvim.command("Frugal explain tier=full")
    wait_idle(ed)
    win = windows(ed, "markdown")[0]["win"]
    script(ed, events=[{"kind": "start"}, {"kind": "text", "text": "Whole answer.\n"}])
    press(ed, win, "R")
    wait_for(lambda: stream_text(ed) == "Whole answer.\n", 5, "the answer sent again")
    wait_idle(ed)
    params = ed.lua("return require('frugal.run').last_answered(vim.fn.bufnr(...)).params",
                    ed.path)
    assert params["action"] == "explain" and params["tier"] == "full"
