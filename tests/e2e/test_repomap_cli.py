"""The repo map on the command line: multi-file actions carry a "repo_map" context item, ranked
by what the files in scope use, and the prompt sent to the model holds it."""
import json
import os

import pytest

from test_cli import FRUGAL, run_json
from test_cli_run import run

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "lib").mkdir()
    (root / "build").mkdir()
    (root / "src" / "main.c").write_text(
        "#include \"parse.h\"\n"
        "int main(int argc, char **argv)\n{\n  return parse_args(argc, argv);\n}\n")
    (root / "lib" / "parse.c").write_text(
        "int parse_args(int argc, char **argv)\n{\n  return argc > 1;\n}\n"
        "int parse_unused(const char *s)\n{\n  return s != 0;\n}\n")
    (root / "lib" / "other.py").write_text("def helper(x):\n    return x\n")
    (root / "build" / "gen.c").write_text("int generated_fn(void)\n{\n  return 0;\n}\n")
    return root


def test_design_context_has_a_repo_map_item_ranked_by_the_scope(project):
    out = run_json("context", str(project / "src" / "main.c") + ":4", "--action", "design")
    maps = [it for it in out["items"] if it["kind"] == "repo_map"]
    assert len(maps) == 1
    m = maps[0]
    assert m["tokens"] > 0
    assert "of 3 files" in m["label"]  # build/ is not walked
    assert out["tokens"] == sum(it["tokens"] for it in out["items"])


def test_single_function_actions_have_no_repo_map(project):
    out = run_json("context", str(project / "src" / "main.c") + ":4", "--action", "fix")
    assert all(it["kind"] != "repo_map" for it in out["items"])


def test_the_prompt_sent_to_the_model_carries_the_map(server, tmp_path, project):
    server.script({"text": "Split parsing from main.\n"})
    p = run(server, tmp_path, "design", str(project / "src" / "main.c") + ":4",
            "--instruction", "how should argument parsing be organised?", "--json")
    assert p.returncode == 0, p.stderr
    body = json.dumps(server.requests()[-1]["body"])
    assert "Repo map" in body
    assert "lib/parse.c:\\n  int parse_args(int argc, char **argv)" in body
    assert "generated_fn" not in body


def test_the_second_process_maps_from_the_file_cache(project, tmp_path):
    state = tmp_path / "state"
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    target = str(project / "src" / "main.c") + ":4"
    first = run_json("context", target, "--action", "design", env=env)
    caches = list((state / "nvim" / "frugal" / "repomap").glob("*.bin"))
    assert len(caches) == 1
    stamp = caches[0].stat().st_mtime_ns
    second = run_json("context", target, "--action", "design", env=env)
    assert first["items"] == second["items"]
    # nothing was scanned again, so nothing was written again
    assert caches[0].stat().st_mtime_ns == stamp
    # a changed file is scanned again and the map shows it
    (project / "lib" / "parse.c").write_text(
        "int parse_args(int argc, char **argv, int strict)\n{\n  return argc > strict;\n}\n")
    third = run_json("context", target, "--action", "design", env=env)
    assert third["items"] != second["items"]
    # a damaged cache is ignored, never an error
    caches[0].write_bytes(b"garbage")
    fourth = run_json("context", target, "--action", "design", env=env)
    assert fourth["items"] == third["items"]
