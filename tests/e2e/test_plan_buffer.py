"""The plan buffer end to end: a real headless Neovim, the real host and the local provider
server. `:Frugal plan GOAL` opens the plan, the user edits it (a step deleted, an instruction
changed), the steps run and each proposal is accepted; after a restart `:Frugal plan` resumes
it and the finished steps are not asked for again (the server's request log says so)."""
import json

import pytest

from conftest import start_editor, wait_for
from test_actions import KEY, Server, config
from test_run import press, wait_proposal

CALC = ("int add(int a, int b)\n{\n  return a - b;\n}\n\n"
        "int mul(int a, int b)\n{\n  return a + b;\n}\n")
PLAN = ("Here is the plan.\n\n"
        "1. fix calc.c:3 - In add, return a + b instead of a - b.\n"
        "2. docs calc.c:3 - Document add in one line.\n"
        "3. fix calc.c:8 - In mul, return the product.\n")
ADD = "```c\nint add(int a, int b)\n{\n  return a + b;\n}\n```\n"
MUL = "```c\nint mul(int a, int b)\n{\n  return a * b;\n}\n```\n"
FIXED = ("int add(int a, int b)\n{\n  return a + b;\n}\n\n"
         "int mul(int a, int b)\n{\n  return a * b;\n}\n")

PLAN_VIEW = """
local plan = require('frugal.plan')._plan()
if not plan or not plan.buf or not vim.api.nvim_buf_is_valid(plan.buf) then return nil end
local marks = vim.api.nvim_buf_get_extmarks(plan.buf, require('frugal.plan').ns, 0, -1,
  { details = true })
local notes = {}
for _, m in ipairs(marks) do
  local text = ''
  for _, chunk in ipairs(m[4].virt_text or {}) do text = text .. chunk[1] end
  notes[#notes + 1] = { row = m[2], text = text }
end
local steps = {}
for _, s in ipairs(plan.steps) do
  steps[#steps + 1] = { n = s.n, status = s.status, problem = s.problem or vim.NIL,
    invalid = s.invalid or vim.NIL, tier = s.tier or vim.NIL }
end
return { buf = plan.buf, lines = vim.api.nvim_buf_get_lines(plan.buf, 0, -1, false),
  notes = notes, steps = steps, busy = plan.busy ~= nil,
  ft = vim.api.nvim_buf_get_option(plan.buf, 'filetype') }
"""


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()


def open_editor(host_bin, server, proj, **plan_opts):
    ed = start_editor()
    ed.nvim.command("cd " + str(proj))
    cfg = config(server)
    cfg["editor"] = {"host_cmd": [host_bin]}
    if plan_opts:
        cfg["editor"]["plan"] = plan_opts
    ed.setup(cfg)
    ed.path = str(proj / "calc.c")
    ed.nvim.command("edit " + ed.path)
    ed.nvim.current.window.cursor = (3, 0)
    return ed


def close(ed):
    try:
        ed.nvim.command("qa!", async_=True)
    except Exception:
        pass
    ed.nvim.close()


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.setenv("FRUGAL_E2E_KEY", KEY)
    d = tmp_path / "proj"
    d.mkdir()
    (d / "Makefile").write_text("all:\n")
    (d / "calc.c").write_text(CALC)
    return d


def view(ed):
    return ed.lua(PLAN_VIEW)


def wait_view(ed, pred, what):
    return wait_for(lambda: (lambda v: v if v and pred(v) else None)(view(ed)), 15, what)


def calc(ed):
    return "\n".join(ed.lua("return vim.api.nvim_buf_get_lines(vim.fn.bufnr(...), 0, -1, "
                            "false)", ed.path)) + "\n"


def stored_plan(ed):
    return ed.lua("""
      local done
      require('frugal.host').call('plan_load', { root = vim.fn.getcwd() }, function(e, r)
        done = r and r.plan or false
      end)
      vim.wait(5000, function() return done ~= nil end)
      return done""")


def statuses(v):
    return [s["status"] for s in v["steps"]]


def make_plan(ed):
    ed.server.script({"text": PLAN})
    ed.nvim.command("Frugal plan fix the arithmetic")
    return wait_view(ed, lambda v: len(v["steps"]) == 3, "the plan buffer")


def edit_plan(ed, v):
    """Deletes step 2 and changes step 3's instruction, as a user would in the buffer."""
    win = ed.lua("return vim.fn.bufwinid(...)", v["buf"])
    assert win > 0
    ed.nvim.api.set_current_win(win)
    lines = v["lines"]
    row = lines.index("2. docs calc.c:3 - Document add in one line.")
    ed.nvim.current.window.cursor = (row + 1, 0)
    ed.nvim.feedkeys("dd", "x")
    ed.nvim.command("%s/return the product\\./return a * b instead of a + b./")


def test_plan_edit_run_accept_each_step(host_bin, server, proj):
    ed = open_editor(host_bin, server, proj)
    ed.server = server
    try:
        v = make_plan(ed)
        assert v["ft"] == "frugalplan"
        assert v["lines"] == ["# goal: fix the arithmetic",
                              "1. fix calc.c:3 - In add, return a + b instead of a - b.",
                              "2. docs calc.c:3 - Document add in one line.",
                              "3. fix calc.c:8 - In mul, return the product."]
        # the figures are virtual text, not buffer text
        assert any("pending" in n["text"] for n in v["notes"])
        assert any("total $" in n["text"] for n in v["notes"])
        assert len(server.requests()) == 1
        assert server.requests()[0]["path"] == "/v1/messages"  # the plan went to full
        edit_plan(ed, v)
        server.script({"text": ADD}, {"text": MUL})
        ed.lua("require('frugal.plan').run_all()")
        prop = wait_proposal(ed)
        assert any(l == "+  return a + b;" for l in prop["lines"])
        v = wait_view(ed, lambda v: statuses(v) == ["proposed", "pending"], "step 1 proposed")
        assert calc(ed) == CALC  # nothing before the user accepts
        press(ed, prop["win"], "a")
        v = wait_view(ed, lambda v: statuses(v) == ["applied", "proposed"], "step 2 proposed")
        prop = wait_proposal(ed)
        press(ed, prop["win"], "a")
        v = wait_view(ed, lambda v: statuses(v) == ["applied", "applied"], "both applied")
        assert calc(ed) == FIXED
        assert (proj / "calc.c").read_text() == CALC  # the buffer is never written
        reqs = server.requests()
        assert [r["path"] for r in reqs] == ["/v1/messages", "/v1/responses", "/v1/responses"]
        step2 = json.dumps(reqs[2]["body"])
        assert "return a * b instead of a + b" in step2 and "Document add" not in step2
        assert "fix the arithmetic" in step2
        assert all(s["tier"] == "mini" for s in v["steps"])
        assert any("applied · mini" in n["text"] for n in v["notes"])
        assert "plan" not in ed.lua("return require('frugal').status()")
        stored = stored_plan(ed)
        assert [s["status"] for s in stored["steps"]] == ["applied", "applied"]
        assert ed.errors() == []
    finally:
        close(ed)


def test_resume_after_a_restart_does_not_ask_for_finished_steps(host_bin, server, proj):
    ed = open_editor(host_bin, server, proj)
    ed.server = server
    try:
        v = make_plan(ed)
        edit_plan(ed, v)
        server.script({"text": ADD})
        # the key of the buffer: <LocalLeader>n runs the next step
        win = ed.lua("return vim.fn.bufwinid(...)", v["buf"])
        press(ed, win, "\\n")
        prop = wait_proposal(ed)
        assert "frugal: plan 0/2" in ed.lua("return require('frugal').status()")
        press(ed, prop["win"], "a")
        wait_view(ed, lambda v: statuses(v) == ["applied", "pending"], "step 1 applied")
        assert ed.lua("return require('frugal').status()") == "frugal: plan 1/2"
        ed.nvim.command("wall")  # the user saves the file
        wait_for(lambda: [s["status"] for s in stored_plan(ed)["steps"]] == [
            "applied", "pending"], 5, "the stored plan")
        assert len(server.requests()) == 2
    finally:
        close(ed)
    ed = open_editor(host_bin, server, proj)
    ed.server = server
    try:
        ed.nvim.command("Frugal plan")
        v = wait_view(ed, lambda v: len(v["steps"]) == 2, "the resumed plan")
        assert v["lines"] == ["# goal: fix the arithmetic",
                              "1. fix calc.c:3 - In add, return a + b instead of a - b.",
                              "2. fix calc.c:8 - In mul, return a * b instead of a + b."]
        assert statuses(v) == ["applied", "pending"]
        # step 1 keeps its tokens and cost
        assert stored_plan(ed)["steps"][0]["tokens"] > 0
        assert any(" tok" in n["text"] and "$" in n["text"] for n in v["notes"]
                   if "total" not in n["text"])
        # the total still counts the plan call and step 1 (both kept with the plan)
        total = [n["text"] for n in v["notes"] if "total" in n["text"]][0]
        assert "1/2 applied" in total and float(total.split("$")[1].split()[0]) > 0
        assert stored_plan(ed)["planner"]["tier"] == "full"
        server.script({"text": MUL})
        ed.lua("require('frugal.plan').run_all()")
        prop = wait_proposal(ed)
        press(ed, prop["win"], "a")
        v = wait_view(ed, lambda v: statuses(v) == ["applied", "applied"], "all applied")
        assert calc(ed) == FIXED
        # one request after the restart: step 1 was not asked for again
        assert len(server.requests()) == 3
        assert "In add" not in json.dumps(server.requests()[2]["body"])
        assert ed.errors() == []
    finally:
        close(ed)


def test_invalid_step_is_marked_and_refused_and_a_failure_skips_the_rest(host_bin, server,
                                                                          proj):
    ed = open_editor(host_bin, server, proj, auto_accept=True)
    ed.server = server
    try:
        v = make_plan(ed)
        win = ed.lua("return vim.fn.bufwinid(...)", v["buf"])
        ed.nvim.api.set_current_win(win)
        ed.nvim.command("3s/calc.c:3/calc.c:99/")
        ed.nvim.current.window.cursor = (3, 0)
        ed.lua("require('frugal.plan').run_cursor()")
        v = wait_view(ed, lambda v: v["steps"][1]["invalid"] is not None, "the invalid mark")
        assert "past the end" in v["steps"][1]["invalid"]
        assert any("past the end" in n["text"] for n in v["notes"])
        wait_for(lambda: ed.errors(), 5, "the refusal")
        assert "step 2 cannot run" in ed.errors()[-1]
        assert len(server.requests()) == 1
        diags = ed.lua("return #vim.diagnostic.get(...)", v["buf"])
        assert diags == 1
        # auto_accept: step 1 applied without a key, step 2 stops the run (it is invalid)
        ed.nvim.command("3d")
        ed.nvim.command("$put ='3. fix calc.c:3 - In add, name the sum.'")
        server.script({"text": ADD}, {"text": "I cannot do that."}, {"text": "Nor can I."})
        ed.lua("require('frugal.plan').run_all()")
        v = wait_view(ed, lambda v: statuses(v)[1] == "failed", "step 2 failed")
        assert statuses(v) == ["applied", "failed", "skipped"]
        assert v["steps"][2]["problem"] == "step 2 failed"
        assert calc(ed).startswith("int add(int a, int b)\n{\n  return a + b;")
        wait_for(lambda: [e for e in ed.errors() if "plan step 2 failed" in e], 5,
                 "the failure")
    finally:
        close(ed)


def test_lines_added_by_a_step_move_the_later_steps_of_the_file(host_bin, server, proj):
    ed = open_editor(host_bin, server, proj, auto_accept=True)
    ed.server = server
    try:
        server.script({"text": "1. fix calc.c:3 - In add, return a + b, with a comment.\n"
                               "2. fix calc.c:8 - In mul, return a * b.\n"})
        ed.nvim.command("Frugal plan fix the arithmetic")
        wait_view(ed, lambda v: len(v["steps"]) == 2, "the plan buffer")
        longer = ("```c\nint add(int a, int b)\n{\n  /* the sum\n     of a and b\n     */\n"
                  "  return a + b;\n}\n```\n")
        server.script({"text": longer}, {"text": MUL})
        ed.lua("require('frugal.plan').run_all()")
        v = wait_view(ed, lambda v: statuses(v) == ["applied", "applied"], "both applied")
        assert v["lines"][2] == "2. fix calc.c:11 - In mul, return a * b."
        assert calc(ed).endswith("int mul(int a, int b)\n{\n  return a * b;\n}\n")
        assert "int mul" in json.dumps(server.requests()[2]["body"])
        assert ed.errors() == []
    finally:
        close(ed)


def test_a_rejected_step_stays_pending_and_stops_the_run(host_bin, server, proj):
    ed = open_editor(host_bin, server, proj)
    ed.server = server
    try:
        make_plan(ed)
        server.script({"text": ADD})
        ed.lua("require('frugal.plan').run_all()")
        prop = wait_proposal(ed)
        press(ed, prop["win"], "r")
        v = wait_view(ed, lambda v: v["steps"][0]["problem"] == "rejected", "the rejection")
        assert statuses(v) == ["pending", "pending", "pending"] and not v["busy"]
        assert len(server.requests()) == 2  # the run stopped: nothing more was sent
        assert calc(ed) == CALC
        assert ed.lua("return require('frugal').complete('r', 'Frugal plan r', 13)") == \
            ["resume"]
    finally:
        close(ed)
