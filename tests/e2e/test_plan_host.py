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
        self.p = subprocess.Popen([FRUGAL, "--stdio"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(cwd))
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
    assert host.close()[0] == 0
