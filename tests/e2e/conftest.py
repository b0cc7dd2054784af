"""Shared fixtures for the end-to-end tests: a real headless Neovim driven through pynvim with
this repository on its runtimepath.

Environment:
  FRUGAL_NVIM  the Neovim executable (default: nvim)
  FRUGAL_HOST  the native host binary (default: <repo>/build/frugal); tests that need it skip
               with a clear reason when it does not exist, and only then.
  FRUGAL_BACKEND  "process" (default) or "inprocess": the backend every setup() that talks to
               the real host asks for (|frugal-backends|); setups with the fake host
               (fake_host.py, a process by nature) or an explicit `backend` keep theirs.
"""
import atexit
import os
import shutil
import sys
import tempfile
import time

import pynvim
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(HERE, "fixtures")
FAKE_HOST = os.path.join(HERE, "fake_host.py")
NVIM = os.environ.get("FRUGAL_NVIM", "nvim")

# The cost ledger lives under Neovim's state dir; tests must never write into the user's own.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="frugal-e2e-state-")
atexit.register(shutil.rmtree, os.environ["XDG_STATE_HOME"], True)
HOST = os.environ.get("FRUGAL_HOST", os.path.join(REPO, "build", "frugal"))
BACKEND = os.environ.get("FRUGAL_BACKEND", "process")
if BACKEND not in ("process", "inprocess"):
    raise SystemExit("FRUGAL_BACKEND must be process or inprocess, not %r" % BACKEND)


def with_backend(opts):
    """`opts` with FRUGAL_BACKEND's backend when they talk to the real host and name none."""
    if BACKEND == "process" or not isinstance(opts, dict) or "backend" in opts:
        return opts
    cmd = (opts.get("editor") or {}).get("host_cmd")
    if cmd and (isinstance(cmd, str) or cmd[0] != HOST):
        return opts  # the fake host, a missing one: tests of the process backend
    return dict(opts, backend=BACKEND)

# Records every vim.notify call so tests can assert what the user was told.
CAPTURE_NOTIFY = """
_G.frugal_notes = {}
vim.notify = function(msg, level, opts)
  table.insert(_G.frugal_notes, { msg = tostring(msg), level = level or vim.log.levels.INFO })
end
"""

# Lines of the preview window, or nil when none is shown.
PREVIEW_LINES = """
for _, win in ipairs(vim.api.nvim_list_wins()) do
  local buf = vim.api.nvim_win_get_buf(win)
  if vim.api.nvim_buf_get_option(buf, 'filetype') == 'frugal-preview' then
    return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  end
end
return nil
"""


def wait_for(predicate, timeout=10.0, what="condition"):
    """Polls `predicate` until it returns a truthy value; fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


class Editor:
    """A running Neovim with helpers for the things every test does."""

    def __init__(self, nvim):
        self.nvim = nvim

    def lua(self, code, *args):
        return self.nvim.exec_lua(code, *args)

    def setup(self, opts):
        self.lua("require('frugal').setup(...)", with_backend(opts))

    def edit(self, name, line, col=1):
        path = os.path.join(FIXTURES, name)
        self.nvim.command("edit " + path.replace(" ", "\\ "))
        self.nvim.current.window.cursor = (line, col - 1)
        return path

    def preview(self):
        return self.lua(PREVIEW_LINES)

    def wait_preview(self, timeout=10.0, previous=None):
        """Waits until a preview is shown (different from `previous`) and returns its lines."""
        def ready():
            lines = self.preview()
            if lines and lines != previous:
                return lines
            return None
        return wait_for(ready, timeout, "the preview window")

    def notes(self, level=None):
        notes = self.lua("return _G.frugal_notes")
        if level is None:
            return notes
        return [n for n in notes if n["level"] == level]

    def errors(self):
        return [n["msg"] for n in self.notes(4)]

    def wait_error(self, needle, timeout=10.0):
        return wait_for(lambda: [m for m in self.errors() if needle in m], timeout,
                        "an error notification containing %r" % needle)


def start_editor(extra_rtp=None):
    rtp = extra_rtp or REPO
    argv = [NVIM, "--embed", "--headless", "--clean", "-n",
            "--cmd", "set rtp^=" + rtp.replace(" ", "\\ ").replace(",", "\\,")]
    nvim = pynvim.attach("child", argv=argv)
    editor = Editor(nvim)
    editor.lua(CAPTURE_NOTIFY)
    return editor


@pytest.fixture
def editor():
    ed = start_editor()
    yield ed
    try:
        ed.nvim.command("qa!", async_=True)
    except Exception:
        pass
    ed.nvim.close()


@pytest.fixture
def server(tmp_path):
    """The local provider server (tests/server/provider_server.py) on a port of its own."""
    from test_actions import Server
    s = Server(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def fake_host_cmd():
    return [sys.executable, FAKE_HOST]


@pytest.fixture
def host_bin():
    if not os.path.isfile(HOST) or not os.access(HOST, os.X_OK):
        pytest.skip("host binary not built: %s does not exist (run `make`, or set FRUGAL_HOST)"
                    % HOST)
    return HOST
