"""The host's side of plans over msgpack-RPC: `plan_validate` and a step of the editor's plan
as the `plan` param of preview/run."""
import os
import subprocess

import msgpack
import pytest

from test_stdio import FRUGAL, Host

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")

CALC = "int add(int a, int b)\n{\n  return a - b;\n}\n\nint mul(int a, int b)\n{\n  return a + b;\n}\n"


class ProjectHost(Host):
    def __init__(self, cwd):
        env = dict(os.environ, XDG_STATE_HOME=str(cwd / "state"))
        self.p = subprocess.Popen([FRUGAL, "--stdio"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(cwd),
                                  env=env)
        self.unpacker = msgpack.Unpacker(raw=False)

    def call(self, msgid, method, params):
        self.send(msgpack.packb([0, msgid, method, [params]]))
        (reply,) = self.read(1)
        assert reply[1] == msgid
        return (reply[2][1] if reply[2] else None), reply[3]


@pytest.fixture
def host(tmp_path):
    (tmp_path / "calc.c").write_text(CALC)
    h = ProjectHost(tmp_path)
    yield h
    if h.p.poll() is None:
        h.p.kill()
        h.p.wait()


def test_plan_validate_marks_each_bad_step(host, tmp_path):
    err, res = host.call(1, "plan_validate", {"text": "# goal: fix it\n"
                                              "1. fix calc.c:3 - fix add\n"
                                              "2. fix calc.c:40 - past the end\n"
                                              "3. fix /etc/passwd - outside\n"
                                              "not a step\n"})
    assert err is None
    assert res["goal"] == "fix it" and res["invalid"] == 3
    assert [s["problem"] for s in res["steps"]][:3] == [
        None, "line 40 is past the end of calc.c (9 lines)", "/etc/passwd is outside the project"]
    assert res["steps"][3]["problem"].startswith("expected 'N. ACTION")
    assert res["steps"][0] == {"n": 1, "action": "fix", "path": "calc.c", "line": 3,
                               "instruction": "fix add", "problem": None}
    # the planner's answer: its prose is skipped
    err, res = host.call(7, "plan_validate", {"text": "Sure:\n1. fix calc.c:3 - fix add\n",
                                              "answer": True})
    assert err is None and res["invalid"] == 0 and len(res["steps"]) == 1
    err, _ = host.call(8, "plan_validate", {"text": "", "answer": 1})
    assert "'answer' must be a boolean" in err
    # another root: calc.c is not there
    err, res = host.call(2, "plan_validate", {"text": "1. fix calc.c:3 - x\n", "root": "/"})
    assert err is None and "does not exist" in res["steps"][0]["problem"]
    err, _ = host.call(3, "plan_validate", {"text": 12})
    assert "needs 'text'" in err
    err, _ = host.call(4, "plan_validate", {"text": "x", "root": "rel"})
    assert "absolute" in err
    err, _ = host.call(5, "plan_validate", {"text": "1. fix a - \xff"})
    assert err is None  # msgpack strings are UTF-8 here; a NUL is refused
    err, _ = host.call(6, "plan_validate", {"text": "1. fix a - x\x00"})
    assert "NUL" in err
    assert host.close()[0] == 0


def test_plan_validate_checks_lines_against_the_editors_buffers(host, tmp_path):
    text = ("1. fix calc.c:12 - past the disk's end, inside the buffer\n"
            "2. implement new.c:2 - a buffer not yet written\n"
            "3. fix calc.c:30 - past the buffer too\n")
    err, res = host.call(1, "plan_validate", {"text": text})
    assert err is None
    assert [s["problem"] for s in res["steps"]] == [
        "line 12 is past the end of calc.c (9 lines)",
        "new.c does not exist, so it has no line 2",
        "line 30 is past the end of calc.c (9 lines)"]
    held = {str(tmp_path / "calc.c"): 14, str(tmp_path / "new.c"): 3}
    err, res = host.call(2, "plan_validate", {"text": text, "buffers": held})
    assert err is None and res["invalid"] == 1
    assert [s["problem"] for s in res["steps"]] == [
        None, None, "line 30 is past the end of calc.c (14 lines)"]
    # a buffer is no way out of the project
    err, res = host.call(3, "plan_validate", {"text": "1. fix /etc/passwd:1 - x\n",
                                              "buffers": {"/etc/passwd": 50}})
    assert res["steps"][0]["problem"] == "/etc/passwd is outside the project"
    for bad in ({"calc.c": -1}, {"calc.c": "9"}, ["calc.c"], {"": 3}):
        err, _ = host.call(4, "plan_validate", {"text": text, "buffers": bad})
        assert err is not None and "'buffers'" in err, bad
    assert host.close()[0] == 0


def test_a_step_is_packaged_at_its_own_target(host, tmp_path):
    plan = "1. fix calc.c:3 - fix add\n2. refactor calc.c - In mul, name the product.\n"
    err, res = host.call(1, "preview", {"text": CALC, "plan": {"text": plan, "n": 2,
                                                               "goal": "fix the arithmetic"}})
    assert err is None, err
    ctx = res["context"]
    assert ctx["scope"]["name"] == "mul" and ctx["file"] == "calc.c"
    assert res["route"]["tier"] == "mini"
    err, res = host.call(2, "preview", {"text": CALC, "plan": {"text": plan, "n": 1}})
    assert err is None and res["context"]["scope"]["name"] == "add"
    err, _ = host.call(3, "preview", {"text": CALC, "plan": {"text": plan, "n": 3}})
    assert "no step 3" in err
    err, _ = host.call(4, "preview", {"text": CALC, "plan": {"text": "1. fix calc.c:99 - x\n",
                                                             "n": 1}})
    assert "step 1 cannot run: line 99 is past the end" in err
    err, _ = host.call(5, "preview", {"text": CALC, "plan": {"text": plan}})
    assert "plan.n" in err
    err, _ = host.call(6, "preview", {"text": CALC, "plan": {"text": plan, "n": 1,
                                                             "task_id": "x" * 80}})
    assert "task_id" in err
    # a plan of another project than the host's directory: its paths are the plan's root's
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "lib.c").write_text(CALC)
    other = "1. fix lib.c:8 - In mul, return a * b.\n"
    err, _ = host.call(7, "preview", {"text": CALC, "plan": {"text": other, "n": 1}})
    assert "lib.c does not exist" in err
    err, res = host.call(8, "preview", {"text": CALC, "plan": {"text": other, "n": 1,
                                                               "root": str(sub)}})
    assert err is None, err
    assert res["context"]["file"] == str(sub / "lib.c")
    assert res["context"]["scope"]["name"] == "mul"
    err, _ = host.call(9, "preview", {"text": CALC, "plan": {"text": other, "n": 1,
                                                             "root": "sub"}})
    assert "plan.root" in err
    assert host.close()[0] == 0


def step(n, action, path, line, instruction, status="pending"):
    return {"n": n, "action": action, "path": path, "line": line, "instruction": instruction,
            "status": status, "tier": None, "model": None, "cost_usd": None, "problem": None}


def test_plan_save_and_load_keep_the_steps_status(host, tmp_path):
    err, res = host.call(1, "plan_load", {})
    assert err is None and res["plan"] is None
    assert res["path"].startswith(str(tmp_path / "state")) and "/frugal/plans/" in res["path"]
    plan = {"goal": "fix the arithmetic", "task_id": "1a-2b-3c", "planner": None,
            "steps": [step(1, "fix", "calc.c", 3, "fix add", "applied"),
                      step(2, "fix", "calc.c", 8, "fix mul")]}
    plan["steps"][0].update(tier="mini", model="gpt-5.4-mini", cost_usd=0.0012, tokens=1234)
    err, res = host.call(2, "plan_save", {"plan": plan})
    assert err is None and res["ok"] is True
    err, res = host.call(3, "plan_load", {})
    assert err is None
    got = res["plan"]
    assert got["root"] == str(tmp_path) and got["version"] == 1
    assert got["steps"] == plan["steps"] and got["task_id"] == "1a-2b-3c"
    # another root has none
    err, res = host.call(4, "plan_load", {"root": "/"})
    assert err is None and res["plan"] is None
    # a damaged plan is refused before anything is written
    bad = dict(plan, steps=[step(1, "fix", "calc.c", 3, "x", "done")])
    err, _ = host.call(5, "plan_save", {"plan": bad})
    assert err == "plan_save: a step's status is unknown"
    bad = dict(plan, steps=[dict(plan["steps"][0], tokens=-1)])
    err, _ = host.call(5, "plan_save", {"plan": bad})
    assert err == "plan_save: a step's tokens is not a count"
    err, _ = host.call(6, "plan_save", {"plan": "no"})
    assert "needs 'plan'" in err
    err, res = host.call(7, "plan_load", {})
    assert res["plan"]["steps"] == plan["steps"]
    assert host.close()[0] == 0


def test_the_command_line_resumes_a_plan_the_editor_saved(host, tmp_path):
    import json
    from test_actions import Server, config
    plan = {"goal": "fix the arithmetic", "task_id": "1a-2b-3c", "planner": None,
            "steps": [step(1, "fix", "calc.c", 3, "fix add", "applied"),
                      step(2, "fix", "calc.c", 8, "fix mul")]}
    err, _ = host.call(1, "plan_save", {"plan": plan})
    assert err is None
    assert host.close()[0] == 0
    srv = Server(tmp_path)
    try:
        srv.script({"text": "```c\nint mul(int a, int b)\n{\n  return a * b;\n}\n```\n"})
        cfg = tmp_path / "frugal.json"
        cfg.write_text(json.dumps(config(srv)))
        env = dict(os.environ, FRUGAL_E2E_KEY="sk-plan-test-1234",
                   XDG_STATE_HOME=str(tmp_path / "state"))
        p = subprocess.run([FRUGAL, "run", "plan", "calc.c:3", "--instruction",
                            "fix the arithmetic", "--execute", "--apply", "--json", "--config",
                            str(cfg), "--ledger", str(tmp_path / "ledger.jsonl")],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=60)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["resumed"] is True
        assert [(r["status"], r["resumed"]) for r in out["results"]] == [
            ("applied", True), ("applied", False)]
        assert len(srv.requests()) == 1
        lines = [json.loads(l) for l in open(tmp_path / "ledger.jsonl")]
        assert [(l["task_id"], l["action"]) for l in lines] == [("1a-2b-3c", "plan")]
    finally:
        srv.stop()
