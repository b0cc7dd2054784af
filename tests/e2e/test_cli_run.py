"""`frugal run` against the local provider server: streamed text, the JSON result, errors."""
import json
import os
import subprocess

import pytest

from test_actions import config
from test_cli import EXAMPLE, FRUGAL

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")




def run(server, tmp_path, *args, key="sk-cli-test-1234"):
    cfg = tmp_path / "frugal.json"
    cfg.write_text(json.dumps(config(server)))
    env = dict(os.environ, FRUGAL_E2E_KEY=key)
    return subprocess.run([FRUGAL, "run", *args, "--config", str(cfg)], capture_output=True,
                          text=True, env=env, timeout=60)


def test_explain_streams_the_answer_to_stdout(server, tmp_path):
    server.script({"text": "count_words splits on anything that is not a letter.\n"})
    p = run(server, tmp_path, "explain", EXAMPLE + ":70")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "count_words splits on anything that is not a letter.\n"
    assert "mini (gpt-5.4-mini)" in p.stderr and "$" in p.stderr


def test_fix_json_has_the_edit_usage_and_cost(server, tmp_path):
    with open(EXAMPLE) as f:
        lines = f.read().split("\n")
    scope = "\n".join(lines[60:93]).replace("return total;", "return total; /* words */") + "\n"
    server.script({"text": "```c\n" + scope + "```\n"})
    p = run(server, tmp_path, "fix", EXAMPLE + ":70", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["tier"] == "mini" and out["model"] == "gpt-5.4-mini"
    assert out["edit"] == {"start_line": 61, "end_line": 93, "replacement": scope}
    u = out["usage"]
    assert u["input_tokens"] > 0 and u["output_tokens"] > 0 and u["estimated"] is False
    assert set(u) >= {"input_tokens", "cached_input_tokens", "cache_write_tokens",
                      "output_tokens", "reasoning_tokens"}
    want = (u["input_tokens"] * 0.75 + u["output_tokens"] * 4.50) / 1e6
    assert abs(out["cost_usd"] - want) < 1e-9


def test_tier_full_goes_to_anthropic(server, tmp_path):
    server.script({"text": "no findings\n"})
    p = run(server, tmp_path, "review", EXAMPLE + ":70", "--tier", "full", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["model"] == "claude-sonnet-4-5" and out["findings"] == []
    assert server.requests()[-1]["path"] == "/v1/messages"


def test_provider_error_is_one_line_and_exit_1(server, tmp_path):
    server.script({"status": 429, "error_type": "insufficient_quota",
                   "error_code": "insufficient_quota", "error_message": "You exceeded your quota"})
    p = run(server, tmp_path, "explain", EXAMPLE + ":70")
    assert p.returncode == 1
    assert "429" in p.stderr and "quota" in p.stderr
    assert "sk-cli-test-1234" not in p.stderr
    # a quota error is not retried
    assert len(server.requests()) == 1


def test_unusable_answer_is_reported(server, tmp_path):
    # unusable on mini, and again on full after the escalation
    server.script({"text": "I would change the loop."}, {"text": "Change the loop."})
    p = run(server, tmp_path, "fix", EXAMPLE + ":70", "--json")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["problem"] and out["escalated"]["from_model"] == "gpt-5.4-mini"
    assert "cannot be used" in p.stderr


def test_bad_arguments_exit_2(server, tmp_path):
    p = run(server, tmp_path, "explain")
    assert p.returncode == 2 and "run needs ACTION FILE:LINE" in p.stderr
    p = run(server, tmp_path, "summon", EXAMPLE + ":70")
    assert p.returncode == 2 and "unknown action 'summon'" in p.stderr


def test_escalation_keeps_both_attempts_figures(server, tmp_path):
    with open(EXAMPLE) as f:
        scope = "\n".join(f.read().split("\n")[60:93]) + "\n"
    server.script({"text": "Replace the loop."}, {"text": "```c\n" + scope + "```\n"})
    p = run(server, tmp_path, "fix", EXAMPLE + ":70", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["tier"] == "full" and out["model"] == "claude-sonnet-4-5"
    assert out["edit"]["replacement"] == scope
    esc = out["escalated"]
    assert esc["from_tier"] == "mini" and esc["from_model"] == "gpt-5.4-mini"
    assert "no fenced code block" in esc["problem"]
    assert esc["usage"]["output_tokens"] > 0 and esc["cost_usd"] > 0
    assert "asking claude-sonnet-4-5" in p.stderr


def test_escalation_can_be_turned_off_and_never_follows_a_forced_tier(server, tmp_path):
    server.script({"text": "Replace the loop."}, {"text": "Replace the loop."})
    cfg = config(server)
    cfg["escalation"] = {"enabled": False}
    (tmp_path / "off.json").write_text(json.dumps(cfg))
    env = dict(os.environ, FRUGAL_E2E_KEY="k")
    p = subprocess.run([FRUGAL, "run", "fix", EXAMPLE + ":70", "--json", "--config",
                        str(tmp_path / "off.json")], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 1 and json.loads(p.stdout)["escalated"] is None
    p = run(server, tmp_path, "fix", EXAMPLE + ":70", "--json", "--tier", "mini")
    assert p.returncode == 1 and json.loads(p.stdout)["escalated"] is None
    assert len(server.requests()) == 2


def cost(tmp_path, *args):
    p = subprocess.run([FRUGAL, "cost", *args, "--ledger", str(tmp_path / "ledger.jsonl")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p


def test_every_call_is_in_the_ledger_and_cost_reports_the_saving(server, tmp_path):
    ledger = str(tmp_path / "ledger.jsonl")
    with open(EXAMPLE) as f:
        scope = "\n".join(f.read().split("\n")[60:93]) + "\n"
    server.script({"text": "It counts words.\n"}, {"text": "Rewrite it."},
                  {"text": "```c\n" + scope + "```\n"})
    assert run(server, tmp_path, "explain", EXAMPLE + ":70", "--ledger", ledger).returncode == 0
    p = run(server, tmp_path, "fix", EXAMPLE + ":70", "--ledger", ledger, "--json")
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    lines = [json.loads(l) for l in open(ledger)]
    assert [(l["action"], l["tier"], l["outcome"]) for l in lines] == [
        ("explain", "mini", "answered"), ("fix", "mini", "escalated"), ("fix", "full", "answered")]
    assert lines[1]["task_id"] == lines[2]["task_id"] != lines[0]["task_id"]
    assert result["ledger"]["id"] == lines[2]["id"]
    assert oct(os.stat(ledger).st_mode & 0o777) == "0o600"
    for l in lines:
        assert l["estimated"] is False and l["cost_usd"] > 0 and l["full_cost_usd"] > 0
    mini = lines[0]
    want = (mini["input_tokens"] * 0.75 + mini["output_tokens"] * 4.50) / 1e6
    assert abs(mini["cost_usd"] - want) < 1e-9
    assert "sk-cli-test-1234" not in open(ledger).read()
    rep = json.loads(cost(tmp_path, "all", "--json").stdout)
    assert rep["tasks"] == 2 and rep["entries"] == 3 and rep["escalated_tasks"] == 1
    total = sum(l["cost_usd"] for l in lines)
    full = sum(l["full_cost_usd"] for l in lines)
    assert abs(rep["cost_usd"] - total) < 1e-9 and abs(rep["full_only_usd"] - full) < 1e-9
    assert abs(rep["savings_pct"] - 100 * (full - total) / full) < 1e-6
    text = cost(tmp_path, "today").stdout
    assert "Full" in text and "%" in text


def test_a_budget_refuses_then_yields_to_the_override(server, tmp_path):
    ledger = str(tmp_path / "ledger.jsonl")
    server.script({"text": "one"}, {"text": "two"})
    assert run(server, tmp_path, "explain", EXAMPLE + ":70", "--ledger", ledger).returncode == 0
    cfg = config(server)
    cfg["budget"] = {"daily_usd": 0.0001}
    (tmp_path / "budget.json").write_text(json.dumps(cfg))
    env = dict(os.environ, FRUGAL_E2E_KEY="k")
    argv = [FRUGAL, "run", "explain", EXAMPLE + ":70", "--ledger", ledger, "--config",
            str(tmp_path / "budget.json")]
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2
    assert "daily budget of $0.00" in p.stderr and "budget=ignore" in p.stderr
    assert len(server.requests()) == 1  # nothing was sent
    p = subprocess.run(argv + ["--over-budget"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr
