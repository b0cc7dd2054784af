"""The `frugal` command line: the JSON contract of context/route/preview and its errors."""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRUGAL = os.environ.get("FRUGAL_HOST", os.path.join(ROOT, "build", "frugal"))
EXAMPLE = os.path.join(ROOT, "examples", "wordfreq.c")

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")


def run(*args, env=None):
    return subprocess.run([FRUGAL, *args], capture_output=True, text=True, env=env, timeout=30)


def run_json(*args, env=None):
    p = run(*args, "--json", env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_context_json_has_the_contract_fields_for_the_function_at_the_cursor():
    out = run_json("context", EXAMPLE + ":70", "--action", "tests")
    assert out["file"].endswith("wordfreq.c")
    assert out["language"] == "c"
    assert out["scope"] == {"kind": "function", "name": "count_words", "start_line": 61,
                           "end_line": 93}
    kinds = [it["kind"] for it in out["items"]]
    assert kinds[0] == "scope"
    assert "imports" in kinds
    # count_words calls table_add: its signature is sent, not its body
    sigs = [it for it in out["items"] if it["kind"] == "signature"]
    assert [s["label"] for s in sigs] == ["table_add"]
    assert sigs[0]["start_line"] == sigs[0]["end_line"] == 41
    for it in out["items"]:
        assert set(it) >= {"kind", "start_line", "end_line", "tokens"}
        assert it["tokens"] > 0
    assert out["tokens"] == sum(it["tokens"] for it in out["items"])
    assert 0 < out["tokens"] < out["file_tokens"]


def test_route_json_for_tests_is_mini_with_reasons_and_estimate():
    out = run_json("route", EXAMPLE + ":70", "--action", "tests")
    assert out["tier"] == "mini"
    assert out["model"] == "gpt-5.4-mini"
    assert any("unit tests" in r for r in out["reasons"])
    assert any("count_words" in r for r in out["reasons"])
    est = out["estimate"]
    assert est["input_tokens"] > 0 and est["output_tokens"] > 0
    # Full costs 2.50/15 against Mini's 0.75/4.50 per 1M tokens: exactly 10/3 times more
    assert abs(est["usd_full"] / est["usd"] - 10.0 / 3.0) < 1e-6


def test_route_goes_to_full_with_other_files_or_when_forced():
    other = os.path.join(ROOT, "include", "frugal.h")
    out = run_json("route", EXAMPLE + ":70", "--action", "refactor", "--file", other)
    assert out["tier"] == "full"
    assert any("2 files in scope" in r for r in out["reasons"])
    out = run_json("route", EXAMPLE + ":70", "--action", "explain", "--tier", "full")
    assert out["tier"] == "full" and out["model"] == "gpt-5.4"


def test_end_line_makes_a_selection():
    out = run_json("context", EXAMPLE + ":63", "--end-line", "66")
    assert out["scope"]["kind"] == "selection"
    assert (out["scope"]["start_line"], out["scope"]["end_line"]) == (63, 66)


def test_config_file_and_env_choose_models(tmp_path):
    cfg = tmp_path / "frugal.json"
    cfg.write_text(json.dumps({"tiers": {"mini": {"model": "gpt-4.1-mini"}}}))
    out = run_json("route", EXAMPLE + ":70", "--action", "tests", "--config", str(cfg))
    assert out["model"] == "gpt-4.1-mini"
    env = dict(os.environ, FRUGAL_CONFIG=str(cfg))
    assert run_json("route", EXAMPLE + ":70", "--action", "tests", env=env)["model"] == \
        "gpt-4.1-mini"


def test_readable_preview_names_tier_scope_and_prices():
    p = run("preview", EXAMPLE + ":70", "--action", "tests")
    assert p.returncode == 0, p.stderr
    assert "function count_words, lines 61-93" in p.stdout
    assert "tier: mini (gpt-5.4-mini)" in p.stdout
    assert "on full:" in p.stdout and "$" in p.stdout


@pytest.mark.parametrize("args,needle", [
    (["context"], "needs FILE:LINE"),
    (["context", "examples/wordfreq.c"], "expected FILE:LINE"),
    (["context", "examples/wordfreq.c:0"], "expected FILE:LINE"),
    (["context", "/nonexistent.c:3"], "cannot read '/nonexistent.c'"),
    (["context", EXAMPLE + ":9999"], "past the end"),
    (["route", EXAMPLE + ":70"], "needs --action"),
    (["route", EXAMPLE + ":70", "--action", "summon"], "unknown action 'summon'"),
    (["route", EXAMPLE + ":70", "--action", "tests", "--tier", "huge"], "--tier must be"),
    (["context", EXAMPLE + ":70", "--bogus"], "unknown option '--bogus'"),
    (["context", EXAMPLE + ":70", "--end-line", "3"], "before line 70"),
    (["frobnicate"], "unknown command 'frobnicate'"),
])
def test_bad_arguments_give_one_line_and_status_2(args, needle):
    p = run(*args)
    assert p.returncode == 2
    assert needle in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_bad_config_names_the_key_and_exits_2(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"tiers": {"mini": {"modle": "x"}}}')
    p = run("route", EXAMPLE + ":70", "--action", "tests", "--config", str(cfg))
    assert p.returncode == 2
    assert "tiers.mini.modle" in p.stderr and str(cfg) in p.stderr


def test_version_json_lists_dependencies():
    out = json.loads(run("--version", "--json").stdout)
    assert out["version"] == "0.1.0"
    assert all(out[k] for k in ("libuv", "msgpack", "curl", "jansson"))


def test_other_files_in_scope_are_sent_whole_as_file_items(tmp_path):
    other = tmp_path / "table.h"
    other.write_text("typedef struct table table;\nint table_add(table *t, const char *w);\n")
    out = run_json("preview", EXAMPLE + ":70", "--action", "refactor", "--file", str(other))
    files = [it for it in out["context"]["items"] if it["kind"] == "file"]
    assert len(files) == 1 and files[0]["label"].endswith("table.h")
    assert (files[0]["start_line"], files[0]["end_line"]) == (1, 2)
    assert out["route"]["tier"] == "full"
    # a file in scope that cannot be read is an error naming it, never silently dropped
    p = run("context", EXAMPLE + ":70", "--action", "refactor", "--file", "/nonexistent.c")
    assert p.returncode != 0 and "/nonexistent.c" in p.stderr and not p.stdout
