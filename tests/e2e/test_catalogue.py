"""The plugin keeps no second copy of the host's vocabulary: lua/frugal/catalogue.lua is what
tools/catalogue.py writes from `frugal catalogue --json`, the version is the same everywhere,
and every table of setup() has exactly the keys the host's configuration parser accepts."""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO, FIXTURES

sys.path.insert(0, os.path.join(REPO, "tools"))
import catalogue as gen  # noqa: E402


def catalogue(host_bin):
    p = subprocess.run([host_bin, "catalogue", "--json"], capture_output=True, text=True,
                       check=True)
    return json.loads(p.stdout)


def test_the_checked_in_lua_catalogue_is_what_the_host_says(host_bin):
    with open(os.path.join(REPO, "lua", "frugal", "catalogue.lua")) as f:
        checked_in = f.read()
    assert checked_in == gen.render(catalogue(host_bin)), \
        "lua/frugal/catalogue.lua is stale: run `make catalogue`"


def test_the_version_is_the_same_in_the_build_the_doc_and_the_plugin(host_bin, editor):
    version = catalogue(host_bin)["version"]
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        assert re.search(r"project\(frugal VERSION (\S+)", f.read()).group(1) == version
    with open(os.path.join(REPO, "doc", "frugal.txt")) as f:
        assert re.search(r"^Version: (\S+)$", f.read(), re.M).group(1) == version
    out = subprocess.run([host_bin, "--version", "--json"], capture_output=True, text=True)
    assert json.loads(out.stdout)["version"] == version
    assert editor.lua("return require('frugal').version") == version


def test_actions_tiers_and_providers_of_setup_are_the_hosts(host_bin, editor):
    cat = catalogue(host_bin)
    assert editor.lua("return require('frugal.config').actions") == \
        [a["name"] for a in cat["actions"]]
    assert editor.lua("return require('frugal.config').tiers") == cat["tiers"]
    assert editor.lua("return require('frugal.config').providers") == cat["providers"]


def nest(path, leaf):
    doc = leaf
    for part in reversed(path.split(".")) if path else []:
        doc = {part: doc}
    return doc


def expected_keys(message):
    m = re.search(r"expected one of: ([^)]*)\)", message)
    assert m, message
    return sorted(k.strip() for k in m.group(1).split(","))


# Every table of the configuration with a fixed set of keys.
TABLES = ["", "tiers", "tiers.mini", "tiers.full", "prices.my-model", "actions.fix", "ledger",
          "budget", "escalation", "conversation", "http"]


@pytest.mark.parametrize("path", TABLES)
def test_setup_knows_exactly_the_keys_the_host_knows(host_bin, editor, tmp_path, path):
    doc = nest(path, {"no_such_key": 1})
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(doc))
    p = subprocess.run([host_bin, "route", os.path.join(FIXTURES, "parser.c") + ":1",
                        "--action", "explain", "--config", str(cfg)],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "no_such_key" in p.stderr, p.stderr
    host_keys = expected_keys(p.stderr)
    ok, err = editor.lua("return { require('frugal').setup(...) }", doc)
    assert ok is False and "no_such_key" in err
    assert expected_keys(err) == host_keys
