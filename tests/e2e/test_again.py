"""`:Frugal again {text}`: continuing the last run's conversation. Against the fake host
(tests/e2e/fake_host.py) for what the editor does (which conversation, the params, the answer
handled like a run's, a follow-up edit anchored on the first request's region whatever became
of its proposal), then end to end with the real host and the local provider server."""
import json
import re

import pytest

from conftest import start_editor, wait_for
from test_actions import KEY, SOURCE, FIXED_FN, FIXED_SCOPE, config
from test_cost import call
from test_run import (ORIGINAL, REPLACEMENT, FIXED, buffer, fix_script, go_source, press,
                      script, stream_text, wait_idle, wait_proposal, windows)

SECOND = "static int add(int a, int b)\n{\n\treturn b + a; /* again */\n}\n"
THIRD = "static int add(int a, int b)\n{\n\treturn (a + b);\n}\n"


def lines_of(text):
    return text.rstrip("\n").split("\n")


def again_script(replacement, **kw):
    """A follow-up's answer with an edit. Its lines are the first request's (the host names
    the original region); the editor anchors it on the conversation's region."""
    s = {"events": [{"kind": "start"}, {"kind": "text", "text": "```c\n" + replacement + "```\n"}],
         "result": {"output": "replace",
                    "edit": {"start_line": 4, "end_line": 7, "replacement": replacement}}}
    s.update(kw)
    return s


@pytest.fixture
def ed(editor, fake_host_cmd, tmp_path):
    editor.setup({"editor": {"host_cmd": fake_host_cmd}})
    path = tmp_path / "calc.c"
    path.write_bytes(("\n".join(ORIGINAL) + "\n").encode())
    editor.nvim.command("edit " + str(path))
    editor.path = str(path)
    return editor


def last_id(ed, bufnr=0):
    return ed.lua("local r = require('frugal.run').last_answered(...) return r and r.id",
                  bufnr or ed.nvim.current.buffer.number)


def again_params(ed):
    return call(ed, "last_call", {"method": "again"})[1]


def infos(ed):
    return [n["msg"] for n in ed.notes(2)]


def diff_lines(prop):
    return [l for l in prop["lines"] if l[:1] in ("-", "+") and l[:3] not in ("---", "+++")]


# Which conversation, which params -----------------------------------------------------------

def test_again_continues_the_last_answer_in_the_same_window(ed):
    script(ed, events=[{"kind": "start"}, {"kind": "text", "text": "It subtracts.\n"}])
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    first = windows(ed, "markdown")[0]["win"]
    run_id = last_id(ed)
    script(ed, events=[{"kind": "start"}, {"kind": "text", "text": "Shorter: a - b.\n"}])
    source = ed.nvim.current.window.handle
    ed.nvim.command("Frugal again say it shorter")
    wait_idle(ed)
    # The conversation stays in the answer window: the first answer, a blank line, the
    # follow-up's (each turn's figures and the question are virtual lines around them).
    assert stream_text(ed) == "It subtracts.\n\nShorter: a - b.\n"
    assert windows(ed, "markdown")[0]["win"] == first  # the finished answer's window is reused
    turns = ed.lua("""
      local buf = vim.api.nvim_win_get_buf(...)
      local out = {}
      for _, m in ipairs(vim.api.nvim_buf_get_extmarks(buf, require('frugal.run').turns_ns, 0, -1,
                                                       { details = true })) do
        out[#out + 1] = m[4].virt_lines[1][1][1]
      end
      return out""", first)
    assert turns[0].startswith("── explain · ") and "turn 1/10" in turns[0]
    assert turns[1] == "── you (follow-up): say it shorter"
    assert turns[2].startswith("── explain again · ") and "turn 2/10" in turns[2]
    assert ed.nvim.current.window.handle == source
    assert again_params(ed) == {"id": run_id, "instruction": "say it shorter"}
    done = [m for m in infos(ed) if m.startswith("frugal: explain again done in ")]
    assert len(done) == 1 and done[0].endswith(", turn 2 of 10"), done
    assert any(m.startswith("frugal: explain done in ") and m.endswith("turn 1 of 10")
               for m in infos(ed))
    # The follow-up is now what the next one continues.
    follow_up = last_id(ed)
    assert follow_up != run_id
    ed.nvim.command("Frugal again and shorter still")
    wait_idle(ed)
    assert again_params(ed)["id"] == follow_up
    assert any(m.endswith("turn 3 of 10") for m in infos(ed))
    assert ed.errors() == []


def test_each_again_continues_from_the_latest_answer(ed):
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    ed.nvim.command("Frugal again one")
    wait_idle(ed)
    second = last_id(ed)
    ed.nvim.command("Frugal again two")
    wait_idle(ed)
    assert again_params(ed)["id"] == second


def test_without_an_earlier_answer_again_says_so(ed):
    ed.nvim.command("Frugal again do it better")
    assert ed.wait_error("no earlier request to continue")[0] == \
        "frugal: no earlier request to continue"
    assert not ed.lua("return require('frugal.host').running()")
    assert not windows(ed)
    # A failed run is nothing to continue either.
    script(ed, events=[], err="fake host: the provider is down")
    ed.nvim.command("Frugal explain")
    ed.wait_error("the provider is down")
    ed.nvim.command("Frugal again do it better")
    wait_for(lambda: len([m for m in ed.errors() if "no earlier request" in m]) == 2, 5,
             "the second error")


def test_a_failed_run_leaves_the_earlier_conversation_to_continue(ed):
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    answered = last_id(ed)
    script(ed, events=[], err="fake host: the provider is down")
    ed.nvim.command("Frugal docs")
    ed.wait_error("the provider is down")
    ed.nvim.command("Frugal again more detail")
    wait_idle(ed)
    assert again_params(ed)["id"] == answered


def test_again_needs_text_and_checks_its_options(ed):
    ed.nvim.command("Frugal again")
    assert "needs the follow-up after it" in ed.wait_error("again")[0]
    ed.nvim.command("Frugal again tier=big x")
    ed.wait_error("tier=big: expected tier=mini or tier=full")
    assert not ed.lua("return require('frugal.host').running()")


def test_bang_tier_and_budget_ignore_are_sent(ed):
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    ed.nvim.command("Frugal! again budget=ignore go deeper")
    wait_idle(ed)
    params = again_params(ed)
    assert params["tier"] == "full" and params["budget_override"] is True
    assert params["instruction"] == "go deeper"
    assert any(m.startswith("frugal: explain again done in ") and "on full gpt-5.4" in m
               and m.endswith("turn 2") for m in infos(ed))
    previous = last_id(ed)
    ed.nvim.command("Frugal again tier=mini once more")
    wait_idle(ed)
    assert again_params(ed) == {"id": previous, "instruction": "once more", "tier": "mini"}


def test_again_in_a_buffer_continues_that_buffers_conversation_else_the_latest(ed, tmp_path):
    a = ed.nvim.current.buffer.number
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    a_id = last_id(ed, a)
    other = tmp_path / "other.c"
    other.write_text("int other(void) { return 1; }\n")
    ed.nvim.command("edit " + str(other))
    b = ed.nvim.current.buffer.number
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    b_id = last_id(ed, b)
    assert a_id != b_id
    ed.nvim.command("buffer %d" % a)
    ed.nvim.command("Frugal again about a")
    wait_idle(ed)
    assert again_params(ed)["id"] == a_id
    # A buffer with no conversation of its own continues the latest one anywhere (a's now).
    latest = last_id(ed, a)
    ed.nvim.command("enew")
    ed.nvim.command("Frugal again about the latest")
    wait_idle(ed)
    assert again_params(ed)["id"] == latest
    # ... and its answer belongs to that conversation's buffer.
    assert last_id(ed, a) != latest
    assert ed.lua("return require('frugal.run').last_answered(...).bufnr", a) == a
    assert ed.errors() == []


def test_again_typed_in_the_answer_window_is_about_its_code(ed, tmp_path):
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    a_id = last_id(ed)
    other = tmp_path / "other.c"
    other.write_text("int other(void) { return 1; }\n")
    ed.nvim.command("split " + str(other))
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    # The answer window now shows other.c's answer; a's answer window is gone. Open one for a.
    go_source(ed)
    script(ed, events=[{"kind": "text", "text": "about calc\n"}])
    ed.nvim.command("Frugal again about calc")
    wait_idle(ed)
    assert again_params(ed)["id"] == a_id
    calc_id = last_id(ed)
    ed.nvim.api.set_current_win(windows(ed, "markdown")[0]["win"])
    ed.nvim.command("Frugal again from the window")
    wait_idle(ed)
    assert again_params(ed)["id"] == calc_id


def test_again_while_the_buffer_has_a_request_running_is_refused(ed):
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    script(ed, events=[{"kind": "text", "text": "slow"}], hold=True)
    ed.nvim.command("Frugal docs")
    wait_for(lambda: stream_text(ed) == "slow", 5, "the stream")
    ed.nvim.command("Frugal again faster")
    assert any("still running" in n["msg"] for n in ed.notes(3))
    assert call(ed, "count", {"method": "again"})[1] == 0
    ed.nvim.command("Frugal cancel")
    wait_idle(ed)


def test_host_errors_are_shown_the_mini_turn_limit_and_a_lost_conversation(ed, fake_host_cmd):
    ed.setup({"editor": {"host_cmd": fake_host_cmd}, "conversation": {"max_turns": 2}})
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    ed.nvim.command("Frugal again one")
    wait_idle(ed)
    assert any(m.endswith("turn 2 of 2") for m in infos(ed))
    ed.nvim.command("Frugal again two")
    msg = ed.wait_error("reached 2 turns")[0]
    assert msg == ("frugal: this mini conversation has reached 2 turns: start a fresh request "
                   "(:Frugal explain) or continue on full (:Frugal! again ...)")
    ed.nvim.command("Frugal! again two")
    wait_idle(ed)
    assert any(m.startswith("frugal: explain again done") and "on full" in m for m in infos(ed))
    # The host restarted: its conversations are gone, and it says so.
    ed.lua("require('frugal.host').stop()")
    wait_for(lambda: not ed.lua("return require('frugal.host').running()"), 5, "the stop")
    ed.nvim.command("Frugal again three")
    assert re.match(r"^frugal: no conversation \d+ \(it ended or the host restarted\)$",
                    ed.wait_error("no conversation")[0])


def test_the_budget_warning_and_refusal_apply_to_again(ed, fake_host_cmd):
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    ed.setup({"editor": {"host_cmd": fake_host_cmd}, "budget": {"daily_usd": 0.002}})
    ed.nvim.command("Frugal again more")
    msg = ed.wait_error("daily budget")[0]
    assert "budget=ignore" in msg
    ed.nvim.command("Frugal again budget=ignore more")
    wait_idle(ed)
    assert again_params(ed)["budget_override"] is True


# Follow-up edits: the first request's region ------------------------------------------------

def test_again_on_a_pending_fix_proposes_for_the_same_region(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    first = wait_proposal(ed)
    go_source(ed)
    script(ed, **again_script(SECOND))
    ed.nvim.command("Frugal again keep the operands in the other order")
    # One window for all proposals: the second takes the first's window, which lists both.
    second = wait_for(lambda: [w for w in windows(ed, "diff") if w["buf"] != first["buf"]], 10,
                      "the second proposal")[0]
    assert second["win"] == first["win"] and len(windows(ed, "diff")) == 1
    assert second["lines"][0].startswith("frugal fix again: ") and "lines 4-7" in \
        second["lines"][0]
    assert second["lines"][2].startswith("waiting: 1 fix calc.c:4  [2 fix calc.c:4]")
    assert "@@ -4,4 +4,4 @@" in second["lines"]
    assert "-\treturn a - b;   " in second["lines"]
    assert "+\treturn b + a; /* again */" in second["lines"]
    press(ed, second["win"], "a")
    want = ORIGINAL[:3] + lines_of(SECOND) + ORIGINAL[7:]
    wait_for(lambda: buffer(ed) == want, 5, "the follow-up's edit")
    # The window shows the first proposal again; it was made for the original text: it can no
    # longer be applied.
    shown = wait_for(lambda: windows(ed, "diff"), 5, "the first proposal again")[0]
    assert shown["buf"] == first["buf"] and shown["win"] == first["win"]
    press(ed, first["win"], "a")
    ed.wait_error("the code changed since the request")
    assert buffer(ed) == want


def test_again_after_the_fix_was_applied_edits_the_applied_text(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "a")
    wait_for(lambda: buffer(ed) == FIXED, 5, "the fix")
    # Lines added above meanwhile move the region.
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 0, false, {'// one', '// two'})",
           ed.path)
    script(ed, **again_script(THIRD))
    go_source(ed)
    ed.nvim.command("Frugal again add parentheses")
    prop = wait_proposal(ed)
    assert "lines 6-9" in prop["lines"][0]
    assert diff_lines(prop) == ["-\treturn a + b; /* fixed \u00e9 */", "+\treturn (a + b);"]
    assert "@@ -6,4 +6,4 @@" in prop["lines"]
    press(ed, prop["win"], "a")
    edited = ["// one", "// two"] + FIXED
    want = edited[:5] + lines_of(THIRD) + edited[9:]
    wait_for(lambda: buffer(ed) == want, 5, "the second edit")
    # And again: the region is now the second edit's text.
    script(ed, **again_script(SECOND))
    go_source(ed)
    ed.nvim.command("Frugal again swap them")
    prop = wait_proposal(ed)
    assert diff_lines(prop) == ["-\treturn (a + b);", "+\treturn b + a; /* again */"]
    press(ed, prop["win"], "a")
    wait_for(lambda: buffer(ed) == edited[:5] + lines_of(SECOND) + edited[9:], 5, "the third")
    go_source(ed)
    ed.nvim.feedkeys("u", "x")
    assert buffer(ed) == want
    assert ed.errors() == []


def test_again_after_a_rejected_fix_edits_the_original_text(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "r")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    script(ed, **again_script(SECOND))
    go_source(ed)
    ed.nvim.command("Frugal again other order")
    prop = wait_proposal(ed)
    assert diff_lines(prop) == ["-\treturn a - b;   ", "+\treturn b + a; /* again */"]
    press(ed, prop["win"], "a")
    wait_for(lambda: buffer(ed) == ORIGINAL[:3] + lines_of(SECOND) + ORIGINAL[7:], 5,
             "the edit")
    # The proposal extmarks go with their proposals; only the conversation's pair stays.
    assert ed.lua("return #vim.api.nvim_buf_get_extmarks(vim.fn.bufnr(...), "
                  "require('frugal.run').ns, 0, -1, {})", ed.path) == 0


def test_again_when_the_region_was_edited_by_hand_is_refused(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "r")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 5, 6, false, { '\treturn 0;' })",
           ed.path)
    edited = buffer(ed)
    script(ed, **again_script(SECOND))
    go_source(ed)
    ed.nvim.command("Frugal again other order")
    prop = wait_proposal(ed)
    assert any(l.startswith("NOTE: the region of the first request is gone or was edited")
               for l in prop["lines"])
    assert any("region of the first request" in n["msg"] for n in ed.notes(3))
    press(ed, prop["win"], "a")
    ed.wait_error("the code changed since the request")
    assert buffer(ed) == edited


def test_again_when_the_region_was_deleted_is_refused(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "a")
    wait_for(lambda: buffer(ed) == FIXED, 5, "the fix")
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 3, 7, false, {})", ed.path)
    script(ed, **again_script(SECOND))
    go_source(ed)
    ed.nvim.command("Frugal again other order")
    prop = wait_proposal(ed)
    assert any(l.startswith("NOTE: the region of the first request") for l in prop["lines"])
    press(ed, prop["win"], "a")
    ed.wait_error("the code changed since the request")
    assert buffer(ed) == ORIGINAL[:3] + ORIGINAL[7:]


def test_again_after_an_answer_without_code_anchors_on_the_scope(ed):
    script(ed, events=[{"kind": "start", "tier": "mini", "model": "gpt-5.4-mini",
                        "scope": {"kind": "function", "name": "add", "start_line": 4,
                                  "end_line": 7}},
                       {"kind": "text", "text": "The minus should be a plus."}],
           result={"output": "replace", "edit": None,
                   "problem": "the model's answer has no code block"})
    ed.nvim.command("Frugal fix")
    wait_idle(ed)
    wait_for(lambda: [n for n in ed.notes(3) if "no code block" in n["msg"]], 5, "the problem")
    # Lines added above meanwhile.
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 0, false, {'// top'})", ed.path)
    script(ed, **again_script(REPLACEMENT))
    ed.nvim.command("Frugal again give the code block")
    prop = wait_proposal(ed)
    assert "@@ -5,4 +5,4 @@" in prop["lines"]
    press(ed, prop["win"], "a")
    wait_for(lambda: buffer(ed) == ["// top"] + FIXED, 5, "the edit")


def test_outcomes_of_follow_up_proposals_use_their_own_ledger_id(ed):
    call(ed, "ledger", {"on": True})
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")  # fake-1
    press(ed, wait_proposal(ed)["win"], "r")
    script(ed, **again_script(SECOND))
    go_source(ed)
    ed.nvim.command("Frugal again other order")  # fake-2
    press(ed, wait_proposal(ed)["win"], "a")
    wait_for(lambda: len(call(ed, "outcomes")[1]) == 2, 5, "both outcomes")
    assert call(ed, "outcomes")[1] == [{"id": "fake-1", "outcome": "rejected"},
                                       {"id": "fake-2", "outcome": "applied"}]


def test_again_on_a_review_maps_its_findings_through_later_edits(ed):
    script(ed, events=[{"kind": "text", "text": "one\n"}],
           result={"output": "review", "findings": [{"line": 6, "message": "minus"}]})
    ed.nvim.command("Frugal review")
    wait_idle(ed)
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 0, false, {'// a', '// b'})",
           ed.path)
    script(ed, events=[{"kind": "text", "text": "two\n"}],
           result={"output": "review", "findings": [{"line": 11, "message": "magic numbers"}]})
    go_source(ed)
    ed.nvim.command("Frugal again also look at main")
    wait_for(lambda: [q for q in ed.lua("return vim.fn.getqflist()")
                      if "magic" in q["text"]], 5, "the new findings")
    qf = ed.lua("return vim.fn.getqflist()")
    assert [(q["lnum"], q["text"]) for q in qf] == [(13, "[frugal] magic numbers")]


def test_a_new_run_ends_the_buffers_previous_conversation(ed):
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "r")
    region_marks = ("return #vim.api.nvim_buf_get_extmarks(vim.fn.bufnr(...), "
                    "require('frugal.run').region_ns, 0, -1, {})")
    assert ed.lua(region_marks, ed.path) == 2
    go_source(ed)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    assert ed.lua(region_marks, ed.path) == 0


# With the real host ------------------------------------------------------------------------



@pytest.fixture
def real(host_bin, server, tmp_path, monkeypatch):
    monkeypatch.setenv("FRUGAL_E2E_KEY", KEY)
    editor = start_editor()
    editor.server = server
    cfg = config(server)
    cfg["ledger"] = {"path": str(tmp_path / "ledger.jsonl")}
    cfg["editor"] = {"host_cmd": [host_bin]}
    editor.cfg = cfg
    editor.setup(cfg)
    (tmp_path / "Makefile").write_text("all:\n")
    path = tmp_path / "calc.c"
    path.write_text("\n".join(SOURCE) + "\n")
    editor.nvim.command("edit " + str(path))
    editor.path = str(path)
    editor.nvim.current.window.cursor = (6, 0)
    yield editor
    try:
        editor.nvim.command("qa!", async_=True)
    except Exception:
        pass
    editor.nvim.close()


def test_real_again_sends_the_conversation_and_streams_the_follow_up(real):
    real.server.script({"text": "It subtracts b from a."}, {"text": "a minus b."})
    real.nvim.command("Frugal explain")
    wait_idle(real)
    real.nvim.command("Frugal again say it in three words")
    wait_idle(real)
    assert stream_text(real).rstrip("\n") == "It subtracts b from a.\n\na minus b."
    assert real.errors() == []
    body = json.dumps(real.server.requests()[-1]["body"])
    # the model sees the first question and answer, then the follow-up
    assert "It subtracts b from a." in body and "say it in three words" in body
    done = [m for m in infos(real) if m.startswith("frugal: explain again done")]
    assert len(done) == 1 and done[0].endswith("turn 2 of 10"), done


def test_real_again_after_an_applied_fix_edits_the_applied_text(real):
    real.server.script({"text": "```c\n" + FIXED_SCOPE + "```\n"})
    real.nvim.command("Frugal fix")
    press(real, wait_proposal(real)["win"], "a")
    fixed = SOURCE[:3] + lines_of(FIXED_FN) + SOURCE[7:]
    wait_for(lambda: buffer(real) == fixed, 5, "the fix")
    swapped = SOURCE[2] + "\n" + FIXED_FN.replace("a + b", "b + a")
    real.server.script({"text": "```c\n" + swapped + "```\n"})
    go_source(real)
    real.nvim.command("Frugal again put b first")
    prop = wait_proposal(real)
    assert diff_lines(prop) == ["-\treturn a + b;", "+\treturn b + a;"]
    press(real, prop["win"], "a")
    wait_for(lambda: buffer(real) == SOURCE[:3] + lines_of(FIXED_FN.replace("a + b", "b + a"))
             + SOURCE[7:], 5, "the follow-up's edit")
    assert real.errors() == []


def test_real_again_without_a_conversation_on_the_host_is_an_error(real):
    real.server.script({"text": "It adds."})
    real.nvim.command("Frugal explain")
    wait_idle(real)
    real.lua("require('frugal.host').stop()")
    wait_for(lambda: not real.lua("return require('frugal.host').running()"), 5, "the stop")
    real.nvim.command("Frugal again more")
    assert "it ended or the host restarted" in real.wait_error("no conversation")[0]


def test_real_mini_turn_limit_then_full_goes_on(real):
    real.cfg["conversation"] = {"max_turns": 2}
    real.setup(real.cfg)
    real.server.script({"text": "First."}, {"text": "Second."}, {"text": "Third, on full."})
    real.nvim.command("Frugal explain")
    wait_idle(real)
    real.nvim.command("Frugal again more")
    wait_idle(real)
    assert any(m.endswith("turn 2 of 2") for m in infos(real))
    real.nvim.command("Frugal again more still")
    msg = real.wait_error("reached 2 turns")[0]
    assert ":Frugal! again" in msg
    real.nvim.command("Frugal! again more still")
    wait_idle(real)
    assert stream_text(real).rstrip("\n") == "Third, on full."
    assert real.server.requests()[-1]["path"] == "/v1/messages"
    assert len(real.errors()) == 1


def test_a_in_the_answer_window_writes_the_follow_up_there(ed):
    script(ed, events=[{"kind": "start"}, {"kind": "text", "text": "It subtracts.\n"}])
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    run_id = last_id(ed)
    win = windows(ed, "markdown")[0]["win"]
    ed.lua("vim.ui.input = function(opts, on_confirm) _G.asked = opts.prompt "
           "on_confirm('why subtract') end")
    script(ed, events=[{"kind": "start"}, {"kind": "text", "text": "Because.\n"}])
    press(ed, win, "a")
    wait_for(lambda: "Because." in stream_text(ed), 5, "the follow-up's answer")
    wait_idle(ed)
    assert ed.lua("return _G.asked") == "frugal follow-up: "
    assert again_params(ed) == {"id": run_id, "instruction": "why subtract"}
    assert stream_text(ed) == "It subtracts.\n\nBecause.\n"
