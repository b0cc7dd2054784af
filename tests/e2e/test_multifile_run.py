"""Multi-file work from the command line against the local provider server: SEARCH/REPLACE
answers checked against the files sent, --apply all or nothing, review-all findings, and a
file in scope that cannot be read refused before anything is sent."""
import json
import os
import subprocess

import pytest

from test_actions import config
from test_cli import FRUGAL

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")

UTIL_C = "int old_name(int a, int b)\n{\n  return a + b;\n}\n"
UTIL_H = "int old_name(int a, int b);\n"
MAIN_C = ("#include \"util.h\"\n\nint main(void)\n{\n  return old_name(1, 2) - 3;\n}\n")




@pytest.fixture
def proj(tmp_path):
    d = tmp_path / "proj"
    d.mkdir()
    (d / "Makefile").write_text("all:\n")
    (d / "util.c").write_text(UTIL_C)
    (d / "util.h").write_text(UTIL_H)
    (d / "main.c").write_text(MAIN_C)
    return d


def run(server, tmp_path, cwd, *args):
    cfg = tmp_path / "frugal.json"
    cfg.write_text(json.dumps(config(server)))
    env = dict(os.environ, FRUGAL_E2E_KEY="sk-mf-test-1234", XDG_STATE_HOME=str(tmp_path / "st"))
    return subprocess.run([FRUGAL, "run", *args, "--config", str(cfg),
                           "--ledger", str(tmp_path / "ledger.jsonl")],
                          capture_output=True, text=True, env=env, timeout=60, cwd=str(cwd))


def block(path, search, replace, lang="c"):
    return "%s\n```%s\n<<<<<<< SEARCH\n%s=======\n%s>>>>>>> REPLACE\n```\n" % (
        path, lang, search, replace)


RENAME = ("- rename old_name to sum in the three files\n\n" +
          block("util.c", "int old_name(int a, int b)\n", "int sum(int a, int b)\n") + "\n" +
          block("util.h", "int old_name(int a, int b);\n", "int sum(int a, int b);\n") + "\n" +
          block("main.c", "  return old_name(1, 2) - 3;\n", "  return sum(1, 2) - 3;\n"))


def snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_rename_across_three_files_applied(server, tmp_path, proj):
    server.script({"text": RENAME})
    p = run(server, tmp_path, proj, "refactor-files", "util.c:1", "--file", "util.h",
            "--file", "main.c", "--instruction", "rename old_name to sum", "--json", "--apply")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["output"] == "edits" and out["problem"] is None
    files = {f["path"]: f for f in out["files"]}
    assert set(files) == {"util.c", "util.h", "main.c"}
    assert files["main.c"] == {"path": "main.c", "new": False, "edits": [
        {"start_line": 5, "end_line": 5, "replacement": "  return sum(1, 2) - 3;\n"}]}
    assert (proj / "util.c").read_text() == UTIL_C.replace("old_name", "sum")
    assert (proj / "util.h").read_text() == UTIL_H.replace("old_name", "sum")
    assert (proj / "main.c").read_text() == MAIN_C.replace("old_name", "sum")
    # the prompt asked for blocks and carried the files sent
    body = json.dumps(server.requests()[-1])
    assert "<<<<<<< SEARCH" in body and "old_name(1, 2)" in body


def test_one_block_that_does_not_match_changes_nothing(server, tmp_path, proj):
    bad = RENAME.replace("  return old_name(1, 2) - 3;\n=", "  return old_name(2, 1) - 3;\n=")
    server.script({"text": bad})
    before = snapshot(proj)
    p = run(server, tmp_path, proj, "refactor-files", "util.c:1", "--file", "util.h",
            "--file", "main.c", "--json", "--apply")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["files"] is None
    assert "main.c" in out["problem"] and "block 3" in out["problem"]
    assert "cannot be used" in p.stderr
    assert snapshot(proj) == before


def test_new_file_created(server, tmp_path, proj):
    answer = ("- move the sum into its own file\n\n" +
              block("sum.c", "", "int sum2(int a, int b)\n{\n  return a + b;\n}\n") + "\n" +
              block("main.c", "  return old_name(1, 2) - 3;\n", "  return 0;\n"))
    server.script({"text": answer})
    p = run(server, tmp_path, proj, "refactor-files", "util.c:1", "--file", "main.c",
            "--json", "--apply")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    new = [f for f in out["files"] if f["path"] == "sum.c"][0]
    assert new["new"] is True
    assert (proj / "sum.c").read_text() == "int sum2(int a, int b)\n{\n  return a + b;\n}\n"
    assert "return 0;" in (proj / "main.c").read_text()
    assert "created sum.c" in p.stderr


def test_edits_without_apply_leave_the_disk_alone(server, tmp_path, proj):
    server.script({"text": RENAME})
    before = snapshot(proj)
    p = run(server, tmp_path, proj, "refactor-files", "util.c:1", "--file", "util.h",
            "--file", "main.c", "--json")
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["files"]) == 3
    assert snapshot(proj) == before


def test_missing_file_refused_before_sending(server, tmp_path, proj):
    server.script({"text": RENAME})
    p = run(server, tmp_path, proj, "refactor-files", "util.c:1", "--file", "util.h",
            "--file", "nonexistent.c", "--json")
    assert p.returncode != 0
    assert "nonexistent.c" in p.stderr
    assert server.requests() == []


def test_review_all_findings_json(server, tmp_path, proj):
    server.script({"text": "main.c:5: [error] the result is always 0: return the sum\n"
                           "util.c:1-3: [info] name says nothing: call it sum\n"
                           "some prose the model added\n"})
    p = run(server, tmp_path, proj, "review-all", "util.c:1", "--file", "main.c", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["findings"] == [
        {"path": "main.c", "line": 5, "end_line": 5, "severity": "error",
         "message": "the result is always 0: return the sum"},
        {"path": "util.c", "line": 1, "end_line": 3, "severity": "info",
         "message": "name says nothing: call it sum"},
    ]


def test_optimize_with_blocks_gives_files(server, tmp_path, proj):
    server.script({"text": "## Fewer calls\nline 3.\n\n" +
                   block("util.c", "  return a + b;\n", "  return b + a;\n")})
    p = run(server, tmp_path, proj, "optimize", "util.c:3", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["files"] == [{"path": "util.c", "new": False, "edits": [
        {"start_line": 3, "end_line": 3, "replacement": "  return b + a;\n"}]}]


def big_c(n=700):
    out = ["#include <stdio.h>", "", "typedef struct point { int x; int y; } point;", ""]
    for i in range(n):
        out += ["static int fn%d(point *p, int count)" % i, "{", "  int s = 0;",
                "  for (int i = 0; i < count; i++) {", "    s += p[i].x * %d + p[i].y;" % i,
                "  }", "  return s;", "}", ""]
    return "\n".join(out) + "\n"


def test_big_file_reviewed_on_mini_in_chunks(server, tmp_path, proj):
    (proj / "big.c").write_text(big_c())
    cfg = tmp_path / "frugal.json"
    cfg.write_text(json.dumps(config(server)))
    ctx = subprocess.run([FRUGAL, "context", "big.c:3", "--action", "review", "--json",
                          "--config", str(cfg)], capture_output=True, text=True, cwd=str(proj),
                         timeout=60)
    assert ctx.returncode == 0, ctx.stderr
    chunks = json.loads(ctx.stdout)["chunks"]
    assert len(chunks) >= 2
    # every line in exactly one chunk, in order, and no function cut in two
    nlines = big_c().count("\n")
    assert chunks[0]["start_line"] == 1 and chunks[-1]["end_line"] == nlines
    for a, b in zip(chunks, chunks[1:]):
        assert b["start_line"] == a["end_line"] + 1
    lines = big_c().split("\n")
    for c in chunks[1:]:
        assert lines[c["start_line"] - 1] == "" or lines[c["start_line"] - 1].startswith("static")
    # each chunk's answer cites a line of its own chunk
    server.script(*[{"text": "%d: [warning] chunk %d finding\n" % (c["start_line"] + 5, i)}
                    for i, c in enumerate(chunks)])
    p = run(server, tmp_path, proj, "review", "big.c:3", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["tier"] == "mini" and out["chunks"] == len(chunks)
    assert [f["line"] for f in out["findings"]] == [c["start_line"] + 5 for c in chunks]
    reqs = server.requests()
    assert len(reqs) == len(chunks)
    assert all(r["path"] == "/v1/responses" for r in reqs)
    # every chunk's prompt carries the file's imports
    assert all("#include <stdio.h>" in json.dumps(r) for r in reqs)
    # the usage is the sum of the calls, and the ledger holds one task
    led = [json.loads(l) for l in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert len(led) == len(chunks) and len({l["task_id"] for l in led}) == 1
    assert out["usage"]["input_tokens"] == sum(l["input_tokens"] for l in led)
    rep = subprocess.run([FRUGAL, "cost", "--json", "--ledger", str(tmp_path / "ledger.jsonl")],
                         capture_output=True, text=True, timeout=30)
    assert json.loads(rep.stdout)["tasks"] == 1


def test_chunk_answer_out_of_its_lines_is_a_problem(server, tmp_path, proj):
    (proj / "big.c").write_text(big_c())
    server.script({"text": "6: [warning] fine\n"}, {"text": "3: [error] a line of chunk 1\n"})
    p = run(server, tmp_path, proj, "review", "big.c:3", "--json")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert "chunk 2 of" in out["problem"]
    assert len(server.requests()) == 2


def test_a_file_changed_since_it_was_sent_refuses_the_whole_apply(server, tmp_path, proj):
    import time
    server.script({"text": RENAME, "first_byte_delay_ms": 3000})
    cfg = tmp_path / "frugal.json"
    cfg.write_text(json.dumps(config(server)))
    env = dict(os.environ, FRUGAL_E2E_KEY="sk-mf-test-1234", XDG_STATE_HOME=str(tmp_path / "st"))
    p = subprocess.Popen([FRUGAL, "run", "refactor-files", "util.c:1", "--file", "util.h",
                          "--file", "main.c", "--json", "--apply", "--config", str(cfg),
                          "--ledger", str(tmp_path / "ledger.jsonl")], cwd=str(proj), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not server.requests():  # the files were read and sent
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.02)
    changed = MAIN_C + "/* edited meanwhile */\n"
    (proj / "main.c").write_text(changed)
    before = snapshot(proj)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert "main.c" in err and "nothing was written" in err
    assert snapshot(proj) == before
    assert (proj / "main.c").read_text() == changed


def test_chunked_review_streams_each_answer_on_its_own_lines(server, tmp_path, proj):
    (proj / "big.c").write_text(big_c())
    cfg = tmp_path / "frugal.json"
    cfg.write_text(json.dumps(config(server)))
    ctx = subprocess.run([FRUGAL, "context", "big.c:3", "--action", "review", "--json",
                          "--config", str(cfg)], capture_output=True, text=True, cwd=str(proj),
                         timeout=60)
    chunks = json.loads(ctx.stdout)["chunks"]
    # answers without a final newline: the stream still shows one per line
    server.script(*[{"text": "%d: [info] piece %d" % (c["start_line"], i)}
                    for i, c in enumerate(chunks)])
    p = run(server, tmp_path, proj, "review", "big.c:3")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join("%d: [info] piece %d\n" % (c["start_line"], i)
                               for i, c in enumerate(chunks))
