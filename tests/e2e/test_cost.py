"""Spending: `:Frugal cost`, the outcome of each proposal in the ledger, today's spend in
status(), budgets (refusal, warning, budget=ignore). First against the fake host
(tests/e2e/fake_host.py), then end to end with the real host, its ledger file and the local
provider server (tests/server/provider_server.py)."""
import json
import re

import pytest

from conftest import start_editor, wait_for
from test_actions import KEY, SOURCE, FIXED_FN, FIXED_SCOPE, config
from test_run import (ORIGINAL, buffer, fix_script, go_source, press, script, stream_text,
                      wait_idle, wait_proposal, windows)

COST_WINDOW = """
for _, win in ipairs(vim.api.nvim_list_wins()) do
  local buf = vim.api.nvim_win_get_buf(win)
  if vim.api.nvim_buf_get_option(buf, 'filetype') == 'frugal-cost' then
    return {
      win = win, buf = buf,
      lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false),
      float = vim.api.nvim_win_get_config(win).relative ~= '',
      focused = vim.api.nvim_get_current_win() == win,
      modifiable = vim.api.nvim_buf_get_option(buf, 'modifiable'),
      bufhidden = vim.api.nvim_buf_get_option(buf, 'bufhidden'),
    }
  end
end
return nil
"""


def cost_window(ed):
    return ed.lua(COST_WINDOW)


def wait_cost_window(ed, previous=None):
    return wait_for(lambda: (lambda w: w if w and w["lines"] != previous else None)(
        cost_window(ed)), 10, "the cost window")


def call(ed, method, params=None):
    """Calls a host method and waits for its answer: (err, result)."""
    ed.lua("""
      local method, params = ...
      _G.answer = nil
      require('frugal.host').call(method, params, function(err, result)
        _G.answer = { err = err or vim.NIL, result = result or vim.NIL }
      end)""", method, params or {})
    got = wait_for(lambda: ed.lua("return _G.answer"), 10, "the answer to " + method)
    return got["err"], got["result"]


def status(ed):
    return ed.lua("return require('frugal').status()")


@pytest.fixture
def ed(editor, fake_host_cmd, tmp_path):
    editor.setup({"editor": {"host_cmd": fake_host_cmd}})
    path = tmp_path / "calc.c"
    path.write_bytes(("\n".join(ORIGINAL) + "\n").encode())
    editor.nvim.command("edit " + str(path))
    editor.path = str(path)
    return editor


def ledger_on(ed):
    call(ed, "ledger", {"on": True})


# :Frugal cost ------------------------------------------------------------------------------

def test_cost_shows_the_report_of_the_month_in_a_float_that_q_closes(ed):
    script(ed, events=[{"kind": "text", "text": "one\n"}])
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    wait_proposal(ed)
    go_source(ed)
    ed.nvim.command("Frugal cost")
    win = wait_cost_window(ed)
    assert win["lines"][0] == "fake cost report: month"
    assert any(re.match(r"^  explain +1 tasks  \$0\.0012$", l) for l in win["lines"])
    assert any(re.match(r"^  fix +1 tasks  \$0\.0012$", l) for l in win["lines"])
    assert "Full-only: $0.0072" in win["lines"]
    assert win["lines"][-2:] == ["ledger: /fake/state/frugal/ledger.jsonl", "q: close"]
    assert win["float"] and win["focused"]
    assert not win["modifiable"] and win["bufhidden"] == "wipe"
    assert call(ed, "last_call", {"method": "cost"})[1] == {"period": "month"}
    ed.nvim.feedkeys("q", "x")
    assert cost_window(ed) is None
    assert ed.errors() == []


@pytest.mark.parametrize("period", ["today", "week", "month", "all", "2026-03-01",
                                    "2026-03-01..2026-03-31"])
def test_cost_sends_the_period_given(ed, period):
    ed.nvim.command("Frugal cost " + period)
    win = wait_cost_window(ed)
    assert win["lines"][0] == "fake cost report: " + period
    assert call(ed, "last_call", {"method": "cost"})[1] == {"period": period}


def test_a_second_cost_replaces_the_first_window(ed):
    ed.nvim.command("Frugal cost today")
    first = wait_cost_window(ed)
    ed.nvim.command("Frugal cost all")
    second = wait_cost_window(ed, first["lines"])
    assert second["lines"][0] == "fake cost report: all"
    wins = [w for w in ed.nvim.windows
            if w.buffer.options["filetype"] == "frugal-cost"]
    assert len(wins) == 1


def test_cost_in_a_split_when_the_preview_style_is_split(editor, fake_host_cmd):
    editor.setup({"editor": {"host_cmd": fake_host_cmd, "preview": {"style": "split"}}})
    editor.nvim.command("Frugal cost week")
    win = wait_cost_window(editor)
    assert not win["float"] and win["focused"]
    assert len(editor.nvim.windows) == 2
    editor.nvim.feedkeys("q", "x")
    assert len(editor.nvim.windows) == 1


@pytest.mark.parametrize("args", ["yesterday", "2026-3-1", "2026-03-01..", "today week"])
def test_a_bad_period_is_an_error_that_names_the_periods(ed, args):
    ed.nvim.command("Frugal cost " + args)
    msg = ed.wait_error("takes one period")[0]
    assert "today, week, month, all, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD" in msg
    assert not ed.lua("return require('frugal.host').running()")  # nothing was sent
    assert cost_window(ed) is None


def test_a_host_error_is_notified_and_opens_no_window(ed, fake_host_cmd):
    ed.setup({"editor": {"host_cmd": fake_host_cmd},
              "ledger": {"path": "/unreadable/ledger.jsonl"}})
    ed.nvim.command("Frugal cost")
    msg = ed.wait_error("cannot read the ledger")[0]
    assert msg == "frugal: cannot read the ledger /unreadable/ledger.jsonl: Permission denied"
    assert cost_window(ed) is None


def test_completion_offers_periods_after_cost_and_budget_ignore_after_options(ed):
    def complete(line):
        return ed.nvim.call("getcompletion", line, "cmdline")
    assert complete("Frugal cost ") == ["today", "week", "month", "all"]
    assert complete("Frugal cost w") == ["week"]
    assert complete("Frugal cost today ") == []
    assert complete("Frugal cancel ") == []
    assert complete("Frugal fix b") == ["budget=ignore"]
    assert complete("Frugal explain ") == ["tier=mini", "tier=full", "file=", "budget=ignore"]
    assert complete("Frugal! again ") == ["tier=mini", "tier=full", "budget=ignore"]


# Outcomes ----------------------------------------------------------------------------------

def outcomes(ed):
    return call(ed, "outcomes")[1]


def test_accepting_an_edit_records_applied_under_the_results_ledger_id(ed):
    ledger_on(ed)
    script(ed, events=[{"kind": "text", "text": "first\n"}])
    ed.nvim.command("Frugal explain")  # fake-1: markdown, no outcome ever
    wait_idle(ed)
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")  # fake-2
    press(ed, wait_proposal(ed)["win"], "a")
    wait_for(lambda: outcomes(ed), 5, "the outcome")
    assert outcomes(ed) == [{"id": "fake-2", "outcome": "applied"}]
    assert ed.errors() == []


def test_rejecting_an_edit_records_rejected_and_closing_it_counts_as_rejecting(ed):
    ledger_on(ed)
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "r")
    wait_for(lambda: outcomes(ed), 5, "the outcome")
    go_source(ed)
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    ed.nvim.command("bwipeout! %d" % prop["buf"])
    wait_for(lambda: len(outcomes(ed)) == 2, 5, "the second outcome")
    assert outcomes(ed) == [{"id": "fake-1", "outcome": "rejected"},
                            {"id": "fake-2", "outcome": "rejected"}]
    assert buffer(ed) == ORIGINAL


def test_a_refused_accept_is_no_outcome_until_the_user_decides(ed):
    ledger_on(ed)
    script(ed, **fix_script())
    ed.nvim.command("Frugal fix")
    prop = wait_proposal(ed)
    ed.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 5, 6, false, { '\treturn 0;' })",
           ed.path)
    press(ed, prop["win"], "a")
    ed.wait_error("the code changed since the request")
    assert call(ed, "count", {"method": "outcome"})[1] == 0
    press(ed, prop["win"], "r")
    wait_for(lambda: outcomes(ed), 5, "the outcome")
    assert outcomes(ed) == [{"id": "fake-1", "outcome": "rejected"}]


def test_no_outcome_without_a_ledger_id(ed):
    script(ed, **fix_script())  # the ledger is off: results carry no `ledger`
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "a")
    wait_for(lambda: buffer(ed) != ORIGINAL, 5, "the edit")
    script(ed, **fix_script(result={"output": "replace", "ledger": {"error": "disk full"},
                                    "edit": {"start_line": 4, "end_line": 7,
                                             "replacement": "int x;\n"}}))
    go_source(ed)
    ed.nvim.command("Frugal fix")
    press(ed, wait_proposal(ed)["win"], "r")
    wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    assert call(ed, "count", {"method": "outcome"})[1] == 0
    assert ed.errors() == []


def test_tests_proposals_record_their_outcome_too(ed, tmp_path):
    ledger_on(ed)
    target = tmp_path / "test_calc.c"
    content = "void test_add(void) {}\n"
    for key in ("a", "r"):
        target_path = str(target) + key
        script(ed, events=[{"kind": "text", "text": content}],
               result={"output": "tests", "tests": {
                   "path": target_path, "exists": False, "append": False,
                   "content": content, "framework": "plain", "why": "new"}})
        go_source(ed)
        ed.nvim.command("Frugal tests")
        press(ed, wait_proposal(ed)["win"], key)
        wait_for(lambda: not windows(ed, "diff"), 5, "the proposal to close")
    wait_for(lambda: len(outcomes(ed)) == 2, 5, "both outcomes")
    assert outcomes(ed) == [{"id": "fake-1", "outcome": "applied"},
                            {"id": "fake-2", "outcome": "rejected"}]


def test_review_and_markdown_answers_have_no_outcome(ed):
    ledger_on(ed)
    script(ed, events=[{"kind": "text", "text": "ok\n"}],
           result={"output": "review", "findings": [{"line": 6, "message": "minus"}]})
    ed.nvim.command("Frugal review")
    wait_idle(ed)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    assert call(ed, "count", {"method": "outcome"})[1] == 0


# status() ----------------------------------------------------------------------------------

def test_status_shows_todays_spend_from_the_last_result(ed):
    ledger_on(ed)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    assert status(ed) == "frugal: $0.0012 today"
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    assert status(ed) == "frugal: $0.0024 today"
    assert call(ed, "count", {"method": "cost"})[1] == 0  # known: nothing to ask


def test_status_asks_the_host_once_when_nothing_is_known(ed):
    # The ledger is off: results carry no spend, so status() asks `cost` today, once.
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    assert status(ed) == ""
    got = wait_for(lambda: (lambda s: s if s else None)(status(ed)), 5, "the spend")
    assert got == "frugal: $0.0024 today"
    assert status(ed) == got
    assert call(ed, "count", {"method": "cost"})[1] == 1
    assert call(ed, "last_call", {"method": "cost"})[1] == {"period": "today"}


def test_status_never_starts_the_host(ed):
    assert status(ed) == ""
    assert status(ed) == ""
    assert not ed.lua("return require('frugal.host').running()")


def test_status_while_a_request_runs_is_the_request(ed):
    ledger_on(ed)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    script(ed, events=[{"kind": "start"}, {"wait": True}, {"kind": "text", "text": "x"}])
    ed.nvim.command("Frugal explain")
    wait_for(lambda: "gpt-5.4-mini" in status(ed), 5, "the running status")
    assert re.match(r"^frugal: mini gpt-5\.4-mini \d+\.\ds$", status(ed))
    call(ed, "release")
    wait_idle(ed)
    assert status(ed) == "frugal: $0.0024 today"


# Budgets -----------------------------------------------------------------------------------

def test_a_refusal_by_the_budget_is_an_error_and_budget_ignore_sends_anyway(ed, fake_host_cmd):
    ed.setup({"editor": {"host_cmd": fake_host_cmd}, "budget": {"daily_usd": 0.001}})
    ed.nvim.command("Frugal explain")
    msg = ed.wait_error("daily budget")[0]
    assert msg.startswith("frugal: daily budget of $0.001 would be passed: $0.0000 spent today")
    assert "add budget=ignore" in msg
    wait_idle(ed)
    assert not windows(ed)  # nothing arrived: no empty answer window
    assert call(ed, "last_run")[1].get("budget_override") is None
    ed.nvim.command("Frugal explain budget=ignore")
    wait_idle(ed)
    assert stream_text(ed) == "A fake answer.\n"
    assert call(ed, "last_run")[1]["budget_override"] is True
    assert len(ed.errors()) == 1


def test_the_start_events_warning_is_a_warning(ed, fake_host_cmd):
    ed.setup({"editor": {"host_cmd": fake_host_cmd}, "budget": {"daily_usd": 0.0014}})
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    warns = [n["msg"] for n in ed.notes(3)]
    assert warns == ["frugal: this request would bring today's spend to $0.0012 of the $0.0014 "
                     "daily budget (86%)"]
    assert ed.errors() == []


def test_a_wrong_budget_argument_is_refused(ed):
    ed.nvim.command("Frugal explain budget=yes")
    assert "the only choice is budget=ignore" in ed.wait_error("budget=yes")[0]
    assert not ed.lua("return require('frugal.host').running()")


def test_budget_ignore_is_not_part_of_the_instruction(ed):
    ed.nvim.command("Frugal ask budget=ignore what does add do")
    wait_idle(ed)
    params = call(ed, "last_run")[1]
    assert params["instruction"] == "what does add do" and params["budget_override"] is True


# With the real host ------------------------------------------------------------------------

@pytest.fixture
def real(host_bin, server, tmp_path, monkeypatch):
    monkeypatch.setenv("FRUGAL_E2E_KEY", KEY)
    editor = start_editor()
    editor.server = server
    editor.ledger = tmp_path / "state" / "ledger.jsonl"
    editor.cfg = config(server)
    editor.cfg["ledger"] = {"path": str(editor.ledger)}
    editor.cfg["editor"] = {"host_cmd": [host_bin]}
    editor.setup(editor.cfg)
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




def ledger_lines(ed):
    if not ed.ledger.exists():
        return []
    return [json.loads(l) for l in ed.ledger.read_text().splitlines() if l.strip()]


def test_real_cost_window_after_two_runs_names_both_actions_and_full(real):
    real.server.script({"text": "It adds two numbers."},
                       {"text": "6: [error] returns a - b instead of a + b\n"})
    real.nvim.command("Frugal explain")
    wait_idle(real)
    go_source(real)
    real.nvim.command("Frugal! review")
    wait_idle(real)
    assert real.errors() == []
    real.nvim.command("Frugal cost")
    text = "\n".join(wait_cost_window(real)["lines"])
    assert "explain" in text and "review" in text and "Full" in text
    assert "ledger: " + str(real.ledger) in text
    assert real.errors() == []


def test_real_outcomes_are_written_to_the_ledger_after_accept_and_reject(real):
    real.server.script({"text": "```c\n" + FIXED_SCOPE + "```\n"})
    real.nvim.command("Frugal fix")
    press(real, wait_proposal(real)["win"], "a")
    wait_for(lambda: buffer(real) != SOURCE, 5, "the edit")
    applied = wait_for(lambda: [l for l in ledger_lines(real) if l.get("type") == "outcome"],
                       5, "the outcome line")
    calls = [l for l in ledger_lines(real) if l.get("type") != "outcome"]
    assert len(calls) == 1
    assert [(o["id"], o["outcome"]) for o in applied] == [(calls[0]["id"], "applied")]

    go_source(real)
    real.nvim.command("u")
    real.server.script({"text": "```c\n" + SOURCE[2] + "\n" + FIXED_FN + "```\n"})
    real.nvim.command("Frugal refactor")
    press(real, wait_proposal(real)["win"], "r")
    outs = wait_for(lambda: (lambda o: o if len(o) == 2 else None)(
        [l for l in ledger_lines(real) if l.get("type") == "outcome"]), 5, "the second outcome")
    calls = [l for l in ledger_lines(real) if l.get("type") != "outcome"]
    assert [(o["id"], o["outcome"]) for o in outs] == [(calls[0]["id"], "applied"),
                                                       (calls[1]["id"], "rejected")]
    assert real.errors() == []


def test_real_status_shows_todays_spend_after_a_run(real):
    assert status(real) == ""
    real.server.script({"text": "It adds."})
    real.nvim.command("Frugal explain")
    wait_idle(real)
    got = status(real)
    m = re.match(r"^frugal: \$(\d+\.\d{4}) today$", got)
    assert m, got
    cost = sum(l.get("cost_usd") or 0 for l in ledger_lines(real))
    assert float(m.group(1)) == pytest.approx(cost, abs=0.00005) and cost > 0


def test_real_budget_refusal_and_budget_ignore(real):
    real.cfg["budget"] = {"daily_usd": 0.00001}
    real.setup(real.cfg)
    real.nvim.command("Frugal explain")
    msg = real.wait_error("daily budget")[0]
    assert "budget.daily_usd" in msg and "budget=ignore" in msg
    assert not [r for r in real.server.requests() if r["path"].startswith("/v1")]
    assert ledger_lines(real) == []
    real.server.script({"text": "Sent anyway."})
    real.nvim.command("Frugal explain budget=ignore")
    wait_idle(real)
    assert "Sent anyway." in stream_text(real)
    assert len(real.errors()) == 1
    assert len(ledger_lines(real)) == 1


def test_real_budget_warning_past_80_percent(real):
    err, preview = call(real, "preview", real.lua(
        "return require('frugal').request_params({action = 'explain', files = {}})"))
    assert err is None
    est = preview["route"]["estimate"]["usd"]
    assert est > 0
    real.cfg["budget"] = {"daily_usd": est / 0.9}
    real.setup(real.cfg)
    real.server.script({"text": "Close to the limit."})
    real.nvim.command("Frugal explain")
    wait_idle(real)
    warns = [n["msg"] for n in real.notes(3) if "budget" in n["msg"]]
    assert len(warns) == 1 and "daily budget (90%)" in warns[0], warns
    assert real.errors() == []
