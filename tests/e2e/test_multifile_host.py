"""Multi-file work through `frugal --stdio`: the editor's unsaved text of another file is what
is sent, files from a set outside the project are left out by name, the repo map is built off
the loop, a missing file is refused before sending, and a run's result carries the checked
edits ("files") and review-all's "findings"."""
import json
import os
import subprocess

import msgpack
import pytest

from test_actions import config
from test_host_lifecycle import Peer, configure
from test_stdio import FRUGAL, Host

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")
KEY = "sk-mf-host-test-4321"
UTIL_C = "int old_name(int a, int b)\n{\n  return a + b;\n}\n"
MAIN_C = "#include \"util.h\"\n\nint main(void)\n{\n  return old_name(1, 2) - 3;\n}\n"


class ProjectHost(Host):
    def __init__(self, cwd):
        self.p = subprocess.Popen([FRUGAL, "--stdio"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(cwd))
        self.unpacker = msgpack.Unpacker(raw=False)




@pytest.fixture
def proj(tmp_path):
    d = tmp_path / "proj"
    d.mkdir()
    (d / "Makefile").write_text("all:\n")
    (d / "util.c").write_text(UTIL_C)
    (d / "util.h").write_text("int old_name(int a, int b);\n")
    (d / "main.c").write_text(MAIN_C)
    return d


@pytest.fixture
def peer(proj, monkeypatch):
    monkeypatch.setenv("FRUGAL_E2E_KEY", KEY)
    h = ProjectHost(proj)
    yield Peer(h)
    if h.p.poll() is None:
        h.p.kill()
        h.p.wait()


def ask(peer, msgid, method, params):
    peer.send([0, msgid, method, [params]])
    peer.pump(lambda: msgid in peer.responses)
    return peer.responses[msgid]


def test_preview_sends_unsaved_text_and_names_what_was_left_out(peer, proj, tmp_path):
    outside = tmp_path / "outside.c"
    outside.write_text("int far_away(void) { return 0; }\n")
    err, res = ask(peer, 1, "preview", {
        "path": "util.c", "action": "refactor-files", "line": 1, "text": UTIL_C,
        "files": [{"path": "main.c", "text": MAIN_C.replace("- 3", "- 4 /* unsaved */"),
                   "from": "named"},
                  {"path": str(outside), "from": "buffers"},
                  "util.h"]})
    assert err is None, err
    items = res["context"]["items"]
    files = {it["label"]: it for it in items if it["kind"] == "file"}
    assert set(files) == {"main.c", "util.h"}
    assert "/* unsaved */" in files["main.c"]["text"]
    left = res["context"]["left_out"]
    assert [(l["path"], l["why"]) for l in left] == [(str(outside), "outside the project")]
    # named one by one, the same outside file is sent
    err, res = ask(peer, 2, "preview", {
        "path": "util.c", "action": "refactor-files", "line": 1, "text": UTIL_C,
        "files": [str(outside)]})
    assert err is None, err
    assert res["context"]["left_out"] == []
    assert [it for it in res["context"]["items"] if it["kind"] == "file"]


def test_repo_map_in_the_host(peer, proj):
    # enough definitions elsewhere in the project for a map worth its heading
    lib = proj / "lib"
    lib.mkdir()
    for i in range(30):
        (lib / ("part%d.c" % i)).write_text(
            "".join("int part%d_fn%d(int value, const char *name)\n{\n  return value;\n}\n"
                    % (i, j) for j in range(6)))
    (proj / "util.c").write_text(UTIL_C + "int use(void) { return part3_fn2(1, \"x\"); }\n")
    err, res = ask(peer, 1, "context", {"path": "util.c", "action": "design", "line": 1,
                                        "text": (proj / "util.c").read_text()})
    assert err is None, err
    maps = [it for it in res["context"]["items"] if it["kind"] == "repo_map"]
    assert len(maps) == 1 and maps[0]["tokens"] > 0
    assert "part3_fn2" in maps[0]["text"]


def test_missing_file_refused_before_sending(peer, server):
    configure(peer, config(server))
    peer.send([2, "frugal_call", [5, "run", {"path": "util.c", "action": "refactor-files",
                                             "line": 1, "text": UTIL_C,
                                             "files": ["nonexistent.c"]}]])
    peer.pump(lambda: 5 in peer.replies)
    err, _ = peer.replies[5]
    assert err and "nonexistent.c" in err
    assert server.requests() == []


def test_run_result_has_files_and_findings(peer, server, proj, tmp_path):
    cfg = config(server)
    cfg["ledger"] = {"path": str(tmp_path / "ledger.jsonl")}
    configure(peer, cfg)
    server.script({"text": "- rename\n\nmain.c\n```c\n<<<<<<< SEARCH\n  return old_name(1, 2)"
                           " - 3;\n=======\n  return sum(1, 2) - 3;\n>>>>>>> REPLACE\n```\n"})
    peer.send([2, "frugal_call", [6, "run", {"path": "util.c", "action": "refactor-files",
                                             "line": 1, "text": UTIL_C,
                                             "files": [{"path": "main.c", "from": "named"}]}]])
    peer.pump(lambda: 6 in peer.replies)
    err, res = peer.replies[6]
    assert err is None, err
    assert res["output"] == "edits"
    assert res["files"] == [{"path": "main.c", "new": False, "edits": [
        {"start_line": 5, "end_line": 5, "replacement": "  return sum(1, 2) - 3;\n"}]}]
    # the host never writes: the editor applies the proposal
    assert (proj / "main.c").read_text() == MAIN_C
    server.script({"text": "main.c:5: [warning] magic numbers: name them\n"})
    peer.send([2, "frugal_call", [7, "run", {"path": "util.c", "action": "review-all",
                                             "line": 1, "text": UTIL_C, "files": ["main.c"]}]])
    peer.pump(lambda: 7 in peer.replies)
    err, res = peer.replies[7]
    assert err is None, err
    assert res["findings"] == [{"path": "main.c", "line": 5, "end_line": 5,
                                "severity": "warning", "message": "magic numbers: name them"}]


def test_preview_of_a_big_review_lists_the_chunks(peer, proj):
    from test_multifile_run import big_c
    text = big_c()
    err, res = ask(peer, 1, "preview", {"path": "big.c", "action": "review", "line": 3,
                                        "text": text})
    assert err is None, err
    chunks = res["context"]["chunks"]
    assert len(chunks) >= 2 and res["route"]["chunks"] == len(chunks)
    assert res["route"]["tier"] == "mini"
    assert res["route"]["estimate"]["input_tokens"] == sum(c["input_tokens"] for c in chunks)
    assert chunks[-1]["end_line"] == text.count("\n")
