"""The in-process backend (`backend = "inprocess"`): libfrugal.so loaded into a real headless
Neovim, serving over a socket to v:servername, against the local provider server. Its exports,
its symbol bindings inside Neovim (LD_DEBUG=bindings), a streamed answer with no `frugal` child
process, stopping mid-run (:Frugal restart, quitting) and :checkhealth."""
import glob
import os
import re
import subprocess
import urllib.request

import pytest

from conftest import HOST, start_editor, wait_for
from test_actions import KEY, SOURCE, config, cursor
from test_cost import ledger_lines
from test_run import stream_text, wait_idle

LIB = os.path.join(os.path.dirname(HOST), "libfrugal.so")
API = {"frugal_version", "frugal_main", "frugal_inprocess_start", "frugal_inprocess_stop",
       "frugal_inprocess_isolation"}


@pytest.fixture
def lib(host_bin):
    if not os.path.isfile(LIB):
        pytest.skip("library not built: %s" % LIB)
    return LIB




def open_editor(server, tmp_path, env=None):
    old = dict(os.environ)
    os.environ["FRUGAL_E2E_KEY"] = KEY
    os.environ.update(env or {})
    try:
        ed = start_editor()
    finally:
        os.environ.clear()
        os.environ.update(old)
    ed.server = server
    ed.ledger = tmp_path / "ledger.jsonl"
    cfg = config(server)
    cfg["ledger"] = {"path": str(ed.ledger)}
    cfg["backend"] = "inprocess"
    cfg["editor"] = {"host_cmd": [HOST]}
    ed.setup(cfg)
    (tmp_path / "Makefile").write_text("all:\n")
    path = tmp_path / "calc.c"
    path.write_text("\n".join(SOURCE) + "\n")
    ed.nvim.command("edit " + str(path))
    ed.path = str(path)
    cursor(ed, 6)
    return ed


@pytest.fixture
def ed(lib, server, tmp_path):
    editor = open_editor(server, tmp_path)
    yield editor
    try:
        editor.nvim.command("qa!", async_=True)
    except Exception:
        pass
    editor.nvim.close()


def children(pid):
    """(pid, comm) of the processes whose parent is `pid`."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                data = f.read()
        except OSError:
            continue
        comm = data[data.index("(") + 1:data.rindex(")")]
        ppid = int(data[data.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append((int(stat.split("/")[2]), comm))
    return out


def call(ed, method, params=None):
    ed.lua("local m, p = ...; _G.t_res = nil; require('frugal.host').call(m, p, function(e, r) "
           "_G.t_res = {e or false, r or false} end)", method, params or {})
    return wait_for(lambda: ed.lua("return _G.t_res"), 10, "the answer to " + method)


def test_the_library_exports_only_the_documented_api(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                         check=True).stdout
    names = {l.split()[-1].split("@")[0] for l in out.splitlines() if re.search(r" [A-TV-Z] ", l)}
    assert names == API
    # what it takes from outside: nothing of libuv, msgpack-c or Jansson is its own
    undef = subprocess.run(["nm", "-D", "-u", lib], capture_output=True, text=True,
                           check=True).stdout
    assert "uv_run" in undef and "msgpack_unpack_next" in undef and "json_loads" in undef


def test_inside_neovim_no_libuv_msgpack_or_json_reference_binds_to_nvim(lib, server, tmp_path):
    log = tmp_path / "ld"
    ed = open_editor(server, tmp_path, {"LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": str(log)})
    try:
        assert call(ed, "version")[0] is False
        pid = ed.lua("return vim.fn.getpid()")
        assert ed.lua("return require('frugal.host').running_backend()") == "inprocess"
        assert ed.lua("return (require('frugal.inprocess').isolation(...))", LIB) is True
    finally:
        ed.nvim.command("qa!", async_=True)
        ed.nvim.close()
    text = open("%s.%d" % (log, pid), errors="replace").read()
    binding = re.compile(r"binding file (\S+) \[\d+\] to (\S+) \[\d+\]: normal symbol `([^']+)'")
    ours = [(to, sym) for frm, to, sym in binding.findall(text) if frm.endswith("libfrugal.so")]
    libs = [(to, sym) for to, sym in ours if re.match(r"(uv_|msgpack_|json_)", sym)]
    # the library really was loaded and bound its references (the check can fail) ...
    assert any(sym == "uv_run" for _, sym in libs), ours[:20]
    assert any(sym.startswith("msgpack_") for _, sym in libs)
    assert any(sym.startswith("json_") for _, sym in libs)
    # ... and none of them went to Neovim's own symbols
    nvim = [(to, sym) for to, sym in libs if os.path.basename(to).startswith("nvim")]
    assert nvim == []
    assert all(re.search(r"lib(uv|msgpack|jansson)", to) for to, _ in libs), libs


def test_a_streamed_answer_with_no_frugal_child_process(ed):
    ed.server.script({"words": 4000, "events": 200, "delay_ms": 10})
    with urllib.request.urlopen(ed.server.url + "/__answer?words=4000", timeout=10) as r:
        want = r.read().decode()
    pid = ed.lua("return vim.fn.getpid()")
    ed.nvim.command("Frugal explain")
    wait_for(lambda: (stream_text(ed) or "").strip(), 10, "the first streamed text")
    seen = []
    while ed.lua("return require('frugal.run').status()") != "":
        seen.extend(children(pid))
        if (stream_text(ed) or "").rstrip("\n") == want.rstrip("\n"):
            break
    wait_idle(ed)
    assert stream_text(ed).rstrip("\n") == want.rstrip("\n")
    assert [c for c in seen if c[1] == "frugal"] == []
    assert ed.lua("return require('frugal.host').pid()") == pid
    assert ed.errors() == []
    assert [l["action"] for l in ledger_lines(ed)] == ["explain"]


def test_restart_of_the_process_backend_mid_run_records_the_run_as_cancelled(lib, server,
                                                                             tmp_path):
    ed = open_editor(server, tmp_path)
    try:
        cfg = ed.lua("return require('frugal').options()")
        cfg["backend"] = "process"
        ed.setup(cfg)
        server.script({"words": 200, "events": 40, "delay_ms": 250})
        ed.nvim.command("Frugal explain")
        wait_for(lambda: (stream_text(ed) or "").strip(), 10, "the first streamed text")
        old = ed.lua("return require('frugal.host').pid()")
        ed.nvim.command("Frugal restart")
        lines = wait_for(lambda: ledger_lines(ed), 10, "the ledger line")
        assert [(l["action"], l["outcome"]) for l in lines] == [("explain", "cancelled")]
        assert ed.lua("return require('frugal.host').running_backend()") == "process"
        assert ed.lua("return require('frugal.host').pid()") != old
        assert call(ed, "version")[0] is False
    finally:
        ed.nvim.command("qa!", async_=True)
        ed.nvim.close()


def test_restart_mid_run_cancels_records_it_and_the_next_start_answers(ed):
    ed.server.script({"words": 200, "events": 40, "delay_ms": 250})
    ed.nvim.command("Frugal explain")
    wait_for(lambda: (stream_text(ed) or "").strip(), 10, "the first streamed text")
    ed.nvim.command("Frugal restart")
    # the thread has ended when restart returns: the run's line is written, as cancelled
    assert [(l["action"], l["outcome"]) for l in ledger_lines(ed)] == [("explain", "cancelled")]
    assert ed.lua("return require('frugal.host').running_backend()") == "inprocess"
    assert ed.lua("return require('frugal.host')._state.restarts") >= 1
    err, result = call(ed, "version")
    assert err is False and result["version"] == ed.lua("return require('frugal').version")
    ed.server.script({"text": "Short answer."})
    ed.nvim.command("Frugal explain")
    wait_for(lambda: "Short answer." in (stream_text(ed) or ""), 10, "the second answer")


def test_quitting_mid_run_stops_the_thread_and_records_the_run_as_cancelled(lib, server,
                                                                             tmp_path):
    ed = open_editor(server, tmp_path)
    server.script({"words": 200, "events": 40, "delay_ms": 250})
    ed.nvim.command("Frugal explain")
    wait_for(lambda: (stream_text(ed) or "").strip(), 10, "the first streamed text")
    pid = ed.lua("return vim.fn.getpid()")
    ed.nvim.command("qa!", async_=True)
    wait_for(lambda: not os.path.exists("/proc/%d/stat" % pid) or
             open("/proc/%d/stat" % pid).read().split(") ")[1][0] == "Z", 10, "Neovim to exit")
    ed.nvim.close()
    lines = wait_for(lambda: ledger_lines(ed), 10, "the ledger line")
    assert [(l["action"], l["outcome"]) for l in lines] == [("explain", "cancelled")]


def test_checkhealth_names_the_backend_the_version_and_the_isolation(ed):
    assert call(ed, "version")[0] is False
    ed.nvim.command("checkhealth frugal")
    text = "\n".join(ed.nvim.current.buffer[:])
    assert "backend: inprocess" in text
    assert re.search(r"library version \S+ matches the plugin", text)
    assert "symbol isolation holds" in text


def test_a_setup_before_the_library_attached_is_sent_after_the_first(lib, server, tmp_path):
    ed = open_editor(server, tmp_path)
    try:
        # start, then configure again in the same tick: both wait in the queue, in order
        ed.lua("""
          local host = require('frugal.host')
          host.start()
          local opts = vim.deepcopy(require('frugal').options())
          opts.tiers.mini.model = 'second-model'
          require('frugal').setup(opts)
        """)
        ed.server.script({"text": "ok"})
        ed.nvim.command("Frugal explain")
        wait_for(lambda: "ok" in (stream_text(ed) or ""), 10, "the answer")
        assert ed.server.requests()[-1]["body"]["model"] == "second-model"
    finally:
        ed.nvim.command("qa!", async_=True)
        ed.nvim.close()
