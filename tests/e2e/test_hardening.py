"""What a hostile or unlucky world sends, through `frugal run` and the local provider server:
endless answers, absurd usage, failed calls, keys over plain HTTP, ledger paths, retries."""
import json
import os
import subprocess

import pytest

from conftest import wait_for
from test_actions import config
from test_cli import EXAMPLE, FRUGAL

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")

KEY = "sk-harden-test-9876"




def frugal(tmp_path, cfg, *args, env=None):
    path = tmp_path / "frugal.json"
    path.write_text(json.dumps(cfg))
    e = dict(os.environ, FRUGAL_E2E_KEY=KEY, HOME=str(tmp_path))
    e.pop("XDG_STATE_HOME", None)
    e.update(env or {})
    return subprocess.run([FRUGAL, *args, "--config", str(path)], capture_output=True,
                          text=True, env=e, timeout=60, cwd=str(tmp_path))


def last_outcome(server):
    """The last request's outcome once the server has decided it (a response being written is
    "pending" until its last byte or the client's close)."""
    return wait_for(lambda: [r["outcome"] for r in server.requests()[-1:]
                             if r["outcome"] != "pending"], 10, "the last response's end")[0]


def ledger_lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f]


def test_an_endless_answer_is_cut_at_the_output_cap_and_the_transfer_stopped(server, tmp_path):
    cfg = config(server)
    cfg["tiers"]["mini"]["max_output_tokens"] = 50
    server.script({"words": 200000, "events": 20000})
    ledger = str(tmp_path / "l.jsonl")
    p = frugal(tmp_path, cfg, "run", "explain", EXAMPLE + ":70", "--json", "--ledger", ledger)
    assert p.returncode == 1
    assert "more than max_output_tokens (50) allows" in p.stderr
    out = json.loads(p.stdout)
    assert 0 < len(out["text"].encode()) <= 50 * 16 + 64 * 1024
    # the client went away mid-response: the server did not send the rest
    assert last_outcome(server) == "client_closed"
    assert ledger_lines(ledger)[-1]["outcome"] == "failed"


def test_a_huge_non_streamed_body_stops_downloading_at_the_cap(server, tmp_path):
    body = json.dumps({"id": "x", "object": "chat.completion", "pad": "y" * (48 << 20)})
    server.script({"body": body, "headers": {"content-type": "application/json"}})
    p = frugal(tmp_path, config(server, mini="openai-chat"), "run", "explain", EXAMPLE + ":70",
               "--ledger", str(tmp_path / "l.jsonl"))
    assert p.returncode == 1 and "larger than 8 MB" in p.stderr
    assert last_outcome(server) == "client_closed"


def test_absurd_usage_is_an_estimate_marked_and_said(server, tmp_path):
    ledger = str(tmp_path / "l.jsonl")
    server.script({"text": "It counts words.\n",
                   "usage": {"input_tokens": 9223372036854775807,
                             "total_tokens": 9223372036854775807}})
    p = frugal(tmp_path, config(server), "run", "explain", EXAMPLE + ":70", "--json",
               "--ledger", ledger)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    u = out["usage"]
    assert u["estimated"] is True and "estimated instead" in u["note"]
    assert "9223372036854775807 input tokens" in u["note"]
    assert 0 < u["input_tokens"] < 100000
    assert out["cost_usd"] < 1
    line = ledger_lines(ledger)[-1]
    assert line["estimated"] is True and line["input_tokens"] == u["input_tokens"]
    assert line["cost_usd"] < 1
    # the readable form says so too
    server.script({"text": "ok", "usage": {"output_tokens": 10 ** 15}})
    p = frugal(tmp_path, config(server), "run", "explain", EXAMPLE + ":70", "--ledger", ledger)
    assert p.returncode == 0, p.stderr
    assert "(estimated)" in p.stderr and "1000000000000000 output tokens" in p.stderr


@pytest.mark.parametrize("item", [
    [{"status": 401}],
    [{"status": 400, "error_message": "bad field"}],
    [{"status": 503}] * 3,
], ids=["401", "400", "503x3"])
def test_a_failed_call_without_usage_costs_nothing(server, tmp_path, item):
    ledger = str(tmp_path / "l.jsonl")
    server.script(*item)
    cfg = config(server)
    p = frugal(tmp_path, cfg, "run", "explain", EXAMPLE + ":70", "--json", "--ledger", ledger)
    assert p.returncode == 1
    out = json.loads(p.stdout)
    line = ledger_lines(ledger)[-1]
    assert line["outcome"] == "failed"
    assert line["cost_usd"] == 0 and out["cost_usd"] == 0
    assert out["spent_today_usd"] == 0
    # the next request's spend counts no phantom either
    server.script({"text": "fine"})
    p = frugal(tmp_path, cfg, "run", "explain", EXAMPLE + ":70", "--json", "--ledger", ledger)
    out = json.loads(p.stdout)
    assert abs(out["spent_today_usd"] - out["cost_usd"]) < 1e-12


def test_retry_messages_count_attempts_from_one(server, tmp_path):
    server.script({"status": 429, "headers": {"retry-after": "0"}},
                  {"status": 429, "headers": {"retry-after": "0"}}, {"text": "done"})
    p = frugal(tmp_path, config(server), "run", "explain", EXAMPLE + ":70",
               "--ledger", str(tmp_path / "l.jsonl"))
    assert p.returncode == 0, p.stderr
    retries = [l for l in p.stderr.splitlines() if "retrying" in l]
    assert len(retries) == 2
    assert "(attempt 2)" in retries[0] and "(attempt 3)" in retries[1]


def test_a_key_is_not_sent_over_plain_http_to_a_remote_host(server, tmp_path):
    cfg = config(server)
    cfg["tiers"]["mini"]["base_url"] = "http://192.0.2.1/v1"  # TEST-NET-1: routed nowhere
    p = frugal(tmp_path, cfg, "run", "explain", EXAMPLE + ":70",
               "--ledger", str(tmp_path / "l.jsonl"))
    assert p.returncode != 0
    assert "http.allow_insecure_key" in p.stderr and KEY not in p.stderr
    cfg["http"] = {"allow_insecure_key": "yes"}
    p = frugal(tmp_path, cfg, "route", EXAMPLE + ":70", "--action", "explain")
    assert p.returncode == 2 and "'http.allow_insecure_key' must be true or false" in p.stderr


def test_ledger_path_expands_home_and_variables(server, tmp_path):
    cfg = config(server)
    cases = [("~/a.jsonl", {}, tmp_path / "a.jsonl"),
             ("$XDG_STATE_HOME/b.jsonl", {}, tmp_path / ".local/state/b.jsonl"),
             ("${FRUGAL_T_DIR}/c.jsonl", {"FRUGAL_T_DIR": str(tmp_path / "d")},
              tmp_path / "d/c.jsonl")]
    for path, env, want in cases:
        cfg["ledger"] = {"path": path}
        server.script({"text": "ok"})
        p = frugal(tmp_path, cfg, "run", "explain", EXAMPLE + ":70", env=env)
        assert p.returncode == 0, p.stderr
        assert want.exists(), (path, os.listdir(tmp_path))
    assert not (tmp_path / "~").exists() and not (tmp_path / "$XDG_STATE_HOME").exists()
    cfg["ledger"] = {"path": "$FRUGAL_NOT_SET_ANYWHERE/x.jsonl"}
    p = frugal(tmp_path, cfg, "run", "explain", EXAMPLE + ":70")
    assert p.returncode == 2
    assert "ledger.path" in p.stderr and "FRUGAL_NOT_SET_ANYWHERE" in p.stderr


@pytest.mark.parametrize("kind", ["directory", "parent_is_file"])
def test_an_unwritable_ledger_is_a_visible_warning(server, tmp_path, kind):
    if kind == "directory":
        bad = tmp_path / "ledger_dir"
        bad.mkdir()
    else:
        (tmp_path / "afile").write_text("")
        bad = tmp_path / "afile" / "ledger.jsonl"
    server.script({"text": "ok"})
    p = frugal(tmp_path, config(server), "run", "explain", EXAMPLE + ":70", "--ledger", str(bad))
    assert p.returncode == 0, p.stderr  # the answer still comes
    assert p.stdout == "ok\n"
    warn = [l for l in p.stderr.splitlines() if "ledger" in l]
    assert warn and str(bad) in warn[0]
    assert ("is a directory" if kind == "directory" else "not a directory") in warn[0]


# ---- the same through the editor ----

from test_actions import cursor, ed  # noqa: E402,F401  (pytest fixture)
from test_run import stream_text, wait_idle  # noqa: E402


def editor_config(ed, host_bin, **extra):
    cfg = config(ed.server)
    cfg["editor"] = {"host_cmd": [host_bin]}
    cfg.update(extra)
    ed.setup(cfg)


def test_the_editor_is_warned_when_the_ledger_cannot_be_written(ed, host_bin, tmp_path):
    bad = tmp_path / "ledger_is_a_dir"
    bad.mkdir()
    editor_config(ed, host_bin, ledger={"path": str(bad)})
    ed.server.script({"text": "Still answered."})
    cursor(ed, 6)
    ed.nvim.command("Frugal explain")
    wait_idle(ed)
    assert "Still answered." in stream_text(ed)
    warns = [n["msg"] for n in ed.notes(3) if "ledger" in n["msg"]]
    assert warns and "is a directory" in warns[0] and str(bad) in warns[0]


def test_the_editor_shows_why_an_endless_answer_was_stopped(ed, host_bin):
    cfg = config(ed.server)
    cfg["tiers"]["mini"]["max_output_tokens"] = 50
    cfg["editor"] = {"host_cmd": [host_bin]}
    ed.setup(cfg)
    ed.server.script({"words": 200000, "events": 20000})
    cursor(ed, 6)
    ed.nvim.command("Frugal explain")
    msg = ed.wait_error("max_output_tokens")[0]
    assert "(50)" in msg
    wait_idle(ed)
    assert last_outcome(ed.server) == "client_closed"


def test_setup_takes_allow_insecure_key_as_a_boolean(editor):
    sent = editor.lua("""
      require('frugal').setup({ http = { allow_insecure_key = true },
                                editor = { host_cmd = '/bin/true' } })
      return vim.fn.json_decode(require('frugal.host')._state.config_json)""")
    assert sent["http"] == {"allow_insecure_key": True}
    err = editor.lua("""
      local ok, err = require('frugal').setup({ http = { allow_insecure_key = 'yes' } })
      return ok and 'accepted' or err""")
    assert "`http.allow_insecure_key` should be true or false" in err


def test_cost_report_skips_absurd_amounts_as_corrupt_lines(server, tmp_path):
    ledger = tmp_path / "l.jsonl"
    server.script({"text": "ok"})
    p = frugal(tmp_path, config(server), "run", "explain", EXAMPLE + ":70", "--ledger",
               str(ledger))
    assert p.returncode == 0, p.stderr
    good = ledger_lines(str(ledger))[0]
    with open(ledger, "a") as f:
        for i in range(2):
            bad = dict(good, id="bad%d" % i, task_id="bad%d" % i, cost_usd=1e308,
                       full_cost_usd=1e308)
            f.write(json.dumps(bad) + "\n")
    p = frugal(tmp_path, config(server), "cost", "all", "--json", "--ledger", str(ledger))
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["entries"] == 1 and abs(rep["cost_usd"] - good["cost_usd"]) < 1e-12
    assert any("skipped 2 corrupt lines" in w for w in rep["warnings"])
    p = frugal(tmp_path, config(server), "cost", "all", "--ledger", str(ledger))
    assert p.returncode == 0 and "inf" not in p.stdout and "nan" not in p.stdout
    assert "skipped 2 corrupt lines" in p.stdout + p.stderr
