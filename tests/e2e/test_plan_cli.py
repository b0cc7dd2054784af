"""`frugal run plan`: the steps from Full, --execute with and without --apply, an edited
--plan FILE, a failing step, resume without paying twice, and the ledger's single task."""
import json
import os
import subprocess

import pytest

from test_actions import config
from test_cli import FRUGAL

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")

CALC = """int add(int a, int b)
{
  return a - b;
}

int mul(int a, int b)
{
  return a + b;
}
"""

PLAN = ("1. fix calc.c:3 - In add, return a + b instead of a - b.\n"
        "2. fix calc.c:8 - In mul, return a * b instead of a + b.\n")

ADD = "```c\nint add(int a, int b)\n{\n  return a + b;\n}\n```\n"
MUL = "```c\nint mul(int a, int b)\n{\n  return a * b;\n}\n```\n"




@pytest.fixture
def proj(tmp_path):
    p = tmp_path / "proj"
    p.mkdir()
    (p / "calc.c").write_text(CALC)
    return p


def frugal(server, tmp_path, proj, *args):
    cfg = tmp_path / "frugal.json"
    cfg.write_text(json.dumps(config(server)))
    env = dict(os.environ, FRUGAL_E2E_KEY="sk-plan-test-1234",
               XDG_STATE_HOME=str(tmp_path / "state"))
    return subprocess.run([FRUGAL, *args, "--config", str(cfg), "--ledger",
                           str(tmp_path / "ledger.jsonl")], capture_output=True, text=True,
                          env=env, cwd=str(proj), timeout=60)


def plan(server, tmp_path, proj, *args):
    return frugal(server, tmp_path, proj, "run", "plan", "calc.c:3", "--instruction",
                  "fix the arithmetic", "--json", *args)


def test_plan_prints_the_steps(server, tmp_path, proj):
    server.script({"text": "1. fix calc.c:3 - In add, return a + b.\n"
                           "2. tests calc.c - Cover add and mul with 0, 1 and -1.\n"})
    p = plan(server, tmp_path, proj)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["tier"] == "full" and out["action"] == "plan"
    assert [(s["n"], s["action"], s["path"], s["line"], s["instruction"])
            for s in out["steps"]] == [
        (1, "fix", "calc.c", 3, "In add, return a + b."),
        (2, "tests", "calc.c", None, "Cover add and mul with 0, 1 and -1.")]
    assert "results" not in out
    assert len(server.requests()) == 1
    assert (proj / "calc.c").read_text() == CALC


def test_execute_apply_changes_the_files_in_order(server, tmp_path, proj):
    plan2 = PLAN + "3. fix calc.c:3 - In add, put the sum in parentheses.\n"
    add2 = ADD.replace("a + b;", "(a + b);")
    server.script({"text": plan2}, {"text": ADD}, {"text": MUL}, {"text": add2})
    p = plan(server, tmp_path, proj, "--execute", "--apply")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [(r["n"], r["tier"], r["status"], r["problem"]) for r in out["results"]] == [
        (1, "mini", "applied", None), (2, "mini", "applied", None),
        (3, "mini", "applied", None)]
    assert (proj / "calc.c").read_text() == (
        "int add(int a, int b)\n{\n  return (a + b);\n}\n\n"
        "int mul(int a, int b)\n{\n  return a * b;\n}\n")
    reqs = server.requests()
    assert [r["path"] for r in reqs] == ["/v1/messages"] + ["/v1/responses"] * 3
    # step 3 was sent the function as step 1 left it, and the plan's goal, not the conversation
    sent = json.dumps(reqs[3]["body"])
    assert "return a + b;" in sent and "return a - b;" not in sent
    assert "fix the arithmetic" in sent and "In mul" not in sent
    assert out["cost_usd"] > sum(r["cost_usd"] for r in out["results"])


def test_execute_without_apply_leaves_the_files(server, tmp_path, proj):
    server.script({"text": PLAN}, {"text": ADD}, {"text": MUL})
    p = plan(server, tmp_path, proj, "--execute")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [r["status"] for r in out["results"]] == ["proposed", "proposed"]
    assert out["results"][1]["edit"]["replacement"] == MUL[5:-4]
    assert (proj / "calc.c").read_text() == CALC


def test_edited_plan_file_runs_without_a_plan_request(server, tmp_path, proj):
    pf = tmp_path / "edited.plan"
    pf.write_text("# goal: fix mul only\n\n7. fix calc.c:7 - In mul, return a * b.\n")
    server.script({"text": MUL})
    p = frugal(server, tmp_path, proj, "run", "plan", "calc.c:3", "--plan", str(pf), "--apply",
               "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [(s["n"], s["line"]) for s in out["steps"]] == [(1, 7)]
    assert out["results"][0]["status"] == "applied"
    assert [r["path"] for r in server.requests()] == ["/v1/responses"]
    assert "return a * b;" in (proj / "calc.c").read_text()
    assert "return a - b;" in (proj / "calc.c").read_text()


def test_invalid_steps_are_marked_with_the_reason(server, tmp_path, proj):
    pf = tmp_path / "bad.plan"
    pf.write_text("1. fix calc.c:99 - past the end\n"
                  "2. fix ../outside.c:1 - outside\n"
                  "3. deploy calc.c - unknown action\n"
                  "4. fix calc.c:3 - fine\n")
    p = frugal(server, tmp_path, proj, "run", "plan", "calc.c:3", "--plan", str(pf), "--json")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    problems = [s["problem"] for s in out["steps"]]
    assert "line 99 is past the end of calc.c (9 lines)" == problems[0]
    assert "outside the project" in problems[1]
    assert "unknown action 'deploy'" in problems[2]
    assert problems[3] is None
    # the first step fails, the rest are skipped: nothing was asked
    assert [r["status"] for r in out["results"]] == ["failed", "skipped", "skipped", "skipped"]
    assert out["results"][1]["problem"] == "step 1 failed"
    assert server.requests() == []


def test_failing_step_stops_the_rest_and_resume_pays_only_for_the_rest(server, tmp_path, proj):
    # step 2's answer is unusable on mini and again on full after the escalation
    server.script({"text": PLAN}, {"text": ADD}, {"text": "I would change it."},
                  {"text": "Change it."})
    p = plan(server, tmp_path, proj, "--execute", "--apply")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert [r["status"] for r in out["results"]] == ["applied", "failed"]
    assert out["results"][1]["problem"].startswith("the answer cannot be used")
    assert out["results"][1]["tier"] == "full"  # escalated once
    assert len(server.requests()) == 4
    c = frugal(server, tmp_path, proj, "cost", "--json")
    rep = json.loads(c.stdout)
    assert rep["tasks"] == 1 and rep["escalated_tasks"] == 1
    # run again: no new plan request, step 1 is not paid again, step 2 runs
    server.post("/__reset", {})
    server.script({"text": MUL})
    p = plan(server, tmp_path, proj, "--execute", "--apply")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["resumed"] is True
    assert [(r["status"], r["resumed"]) for r in out["results"]] == [
        ("applied", True), ("applied", False)]
    assert [r["path"] for r in server.requests()] == ["/v1/responses"]
    text = (proj / "calc.c").read_text()
    assert "return a + b;" in text and "return a * b;" in text


def test_three_steps_third_skipped_after_a_failure(server, tmp_path, proj):
    pf = tmp_path / "p.plan"
    pf.write_text("1. fix calc.c:3 - fix add\n2. fix calc.c:8 - fix mul\n"
                  "3. explain calc.c:3 - explain add\n")
    server.script({"text": ADD}, {"status": 500, "error_message": "boom"},
                  {"status": 500, "error_message": "boom"}, {"status": 500, "error_message": "boom"},
                  {"status": 500, "error_message": "boom"})
    p = frugal(server, tmp_path, proj, "run", "plan", "calc.c:3", "--plan", str(pf), "--json")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert [r["status"] for r in out["results"]] == ["proposed", "failed", "skipped"]
    assert out["results"][2]["problem"] == "step 2 failed"


def test_the_plan_is_one_task_in_the_ledger(server, tmp_path, proj):
    server.script({"text": PLAN}, {"text": ADD}, {"text": MUL})
    p = plan(server, tmp_path, proj, "--execute", "--apply")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in open(tmp_path / "ledger.jsonl")]
    assert len(lines) == 3
    assert len({l["task_id"] for l in lines}) == 1
    assert {l["action"] for l in lines} == {"plan"}
    assert [l["tier"] for l in lines] == ["full", "mini", "mini"]
    c = frugal(server, tmp_path, proj, "cost", "--json")
    assert c.returncode == 0, c.stderr
    rep = json.loads(c.stdout)
    rows = {r["action"]: r for r in rep["by_action"]}
    assert list(rows) == ["plan"] and rows["plan"]["tasks"] == 1 and rows["plan"]["entries"] == 3
    assert rep["tasks"] == 1 and rep["escalated_tasks"] == 0
    # what the steps would have cost on Full is above what they cost
    assert rows["plan"]["full_only_usd"] > rows["plan"]["cost_usd"]


def big_c(n):
    return "".join("/* f%d adds %d. */\nint f%d(int x)\n{\n  int y = x + %d;\n  y = y * 2 - %d;\n"
                   "  return y + x * %d - (y / 3);\n}\n\n" % (i, i, i, i, i, i)
                   for i in range(n))


def test_the_planner_gets_outlines_of_big_files_and_small_ones_whole(server, tmp_path, proj):
    (proj / "big.c").write_text(big_c(120))
    (proj / "small.c").write_text(big_c(2))
    p = frugal(server, tmp_path, proj, "context", "calc.c:3", "--action", "plan", "--file",
               "big.c", "--instruction", "make f7 saturate", "--json")
    assert p.returncode == 0, p.stderr
    items = {i["label"]: i for i in json.loads(p.stdout)["items"] if i["kind"] == "file"}
    assert list(items) == ["calc.c (outline)", "big.c (outline)"]
    outline = items["big.c (outline)"]["tokens"]
    # the named function is sent whole, the others as signatures
    server.script({"text": "1. fix big.c:30 - In f7, clamp the result to INT_MAX.\n"})
    p = frugal(server, tmp_path, proj, "run", "plan", "calc.c:3", "--file", "big.c",
               "--instruction", "make f7 saturate", "--json")
    assert p.returncode == 0, p.stderr
    sent = json.dumps(server.requests()[0]["body"])
    assert "y = y * 2 - 7;" in sent and "y = y * 2 - 8;" not in sent and "int f8(int x)" in sent
    p = frugal(server, tmp_path, proj, "context", "calc.c:3", "--action", "plan", "--file",
               "small.c", "--json")
    items = [i["label"] for i in json.loads(p.stdout)["items"] if i["kind"] == "file"]
    assert items == ["calc.c (outline)", "small.c"]
    # other actions get the file whole
    p = frugal(server, tmp_path, proj, "context", "calc.c:3", "--action", "refactor-files",
               "--file", "big.c", "--json")
    items = [i for i in json.loads(p.stdout)["items"] if i["kind"] == "file"]
    assert [i["label"] for i in items] == ["big.c"]
    assert outline < items[0]["tokens"] * 0.8


def test_the_planner_sees_its_own_file_as_an_outline_and_writes_no_cache(server, tmp_path,
                                                                          proj):
    (proj / "big.c").write_text(big_c(120))
    (proj / "util.c").write_text("/* Sums twice. */\nint twice(int a, int b)\n"
                                 "{\n  return add(a, b) + add(a, b);\n}\n")
    (proj / "other.c").write_text("int unrelated(int x)\n{\n  return x;\n}\n")
    server.script({"text": "1. fix calc.c:8 - In mul, return a * b.\n"})
    p = frugal(server, tmp_path, proj, "run", "plan", "calc.c:3", "--file", "big.c",
               "--instruction", "fix the arithmetic of add", "--json")
    assert p.returncode == 0, p.stderr
    body = server.requests()[0]["body"]
    context = body["messages"][0]["content"][0]["text"]
    task = body["messages"][0]["content"][1]["text"]
    # the function at the cursor whole in the task, the rest of its file by line number
    assert "return a - b;" in task
    assert "## File in scope: calc.c (outline)" in context
    assert "\n6| int mul(int a, int b)\n" in context and "return a + b;" not in context
    # outlined files are not repeated by the map, which shows the rest of the project that
    # is connected to them (here a caller of add), not what is unrelated
    rmap = context[context.index("## Repo map"):]
    assert "util.c:" in rmap and "int twice(int a, int b)" in rmap
    assert "big.c" not in rmap and "calc.c" not in rmap and "unrelated" not in rmap
    # one planner request, never followed by one with its prefix: no cache write
    assert "cache_control" not in json.dumps(body)
    assert server.requests()[0]["usage"]["cache_creation_input_tokens"] == 0
    # an action that may be followed up still marks its prefix
    server.script({"text": "calc.c\n```c\n<<<<<<< SEARCH\n  return a - b;\n=======\n"
                           "  return a + b;\n>>>>>>> REPLACE\n```\n"})
    p = frugal(server, tmp_path, proj, "run", "refactor-files", "calc.c:3", "--file", "big.c",
               "--instruction", "fix add", "--json")
    assert p.returncode == 0, p.stderr
    assert "cache_control" in json.dumps(server.requests()[1]["body"])


def test_a_step_below_an_edit_that_added_lines_still_finds_its_function(server, tmp_path, proj):
    longer_add = "```c\nint add(int a, int b)\n{\n  /* the sum */\n  int s = a + b;\n  return s;\n}\n```\n"
    server.script({"text": PLAN}, {"text": longer_add}, {"text": MUL})
    p = plan(server, tmp_path, proj, "--execute", "--apply")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    # step 2 named line 8 of the file as planned: mul, now at lines 8-11
    assert out["results"][1]["edit"]["start_line"] == 8
    assert (proj / "calc.c").read_text() == (
        "int add(int a, int b)\n{\n  /* the sum */\n  int s = a + b;\n  return s;\n}\n\n"
        "int mul(int a, int b)\n{\n  return a * b;\n}\n")


def test_an_implement_step_may_create_a_new_file(server, tmp_path, proj):
    pf = tmp_path / "new.plan"
    pf.write_text("1. implement lib/sub.c - Write int sub(int a, int b) returning a - b.\n"
                  "2. fix lib/missing.c - a fix needs the file\n")
    body = "int sub(int a, int b)\n{\n  return a - b;\n}\n"
    server.script({"text": "```c\n" + body + "```\n"})
    p = frugal(server, tmp_path, proj, "run", "plan", "calc.c:3", "--plan", str(pf), "--apply",
               "--json")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["steps"][0]["problem"] is None
    assert "lib/missing.c does not exist" in out["steps"][1]["problem"]
    assert [r["status"] for r in out["results"]] == ["applied", "failed"]
    assert (proj / "lib" / "sub.c").read_text() == body


def test_an_edited_plan_keeps_the_finished_steps(server, tmp_path, proj):
    three = PLAN + "3. explain calc.c:3 - Say what add does.\n"
    server.script({"text": three}, {"text": ADD}, {"text": "I would change it."},
                  {"text": "Change it."})
    p = plan(server, tmp_path, proj, "--execute", "--apply")
    assert p.returncode == 1
    assert [r["status"] for r in json.loads(p.stdout)["results"]] == [
        "applied", "failed", "skipped"]
    # the user deletes step 3 and rewrites step 2, then runs the edited plan
    pf = tmp_path / "edited.plan"
    pf.write_text("# goal: fix the arithmetic\n"
                  "1. fix calc.c:3 - In add, return a + b instead of a - b.\n"
                  "2. fix calc.c:8 - In mul, multiply: return a * b.\n")
    server.post("/__reset", {})
    server.script({"text": MUL})
    p = frugal(server, tmp_path, proj, "run", "plan", "calc.c:3", "--plan", str(pf), "--apply",
               "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [(r["status"], r["resumed"]) for r in out["results"]] == [
        ("applied", True), ("applied", False)]
    assert len(server.requests()) == 1
    assert out["cost_usd"] == out["results"][1]["cost_usd"]
    lines = [json.loads(l) for l in open(tmp_path / "ledger.jsonl")]
    assert len({l["task_id"] for l in lines}) == 1  # the edited plan is still the same task
