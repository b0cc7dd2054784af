"""The editor never interrupts: with a UI attached at 80x24 (as a terminal would be), every
action, a proposal accepted with the source buffer's key, a 429 retry, a provider that is down,
a budget refusal, a wrong setup() key and a wrong :Frugal word all end without a single
hit-enter prompt. Real host, local provider server; vim.notify is Neovim's own (not captured),
so what the user would see is what is checked."""
import os
import socket

import pynvim
import pytest

from conftest import NVIM, REPO, wait_for
from test_actions import FIXED_SCOPE, KEY, SOURCE, Server, config

COLUMNS, LINES = 80, 24


class UI:
    """Neovim with a UI attached; fails the test as soon as a hit-enter prompt shows."""

    def __init__(self, nvim):
        self.nvim = nvim
        self.seen = []  # text of every screen line drawn, for the failure message

    def drain(self):
        # pynvim keeps the notifications that arrive during a request; the redraw events hold
        # what a terminal would show.
        pending = getattr(self.nvim._session, "_pending_messages", None)
        while pending:
            msg = pending.popleft()
            if msg[0] != "notification" or msg[1] != "redraw":
                continue
            for batch in msg[2]:
                if batch and batch[0] == "grid_line":
                    for ev in batch[1:]:
                        text = "".join(c[0] for c in ev[3])
                        if text.strip():
                            self.seen.append(text)
                        if "Press ENTER" in text or "type command to continue" in text:
                            pytest.fail("hit-enter prompt on screen: %r (last lines: %r)"
                                        % (text, self.seen[-8:]))

    def check(self):
        mode = self.nvim.request("nvim_get_mode")
        self.drain()
        if mode.get("blocking") and mode["mode"].startswith("r"):
            pytest.fail("hit-enter prompt (mode %r); last lines drawn: %r"
                        % (mode["mode"], self.seen[-8:]))
        return mode

    def lua(self, code, *args):
        self.check()  # a request other than nvim_get_mode would wait behind a prompt
        out = self.nvim.exec_lua(code, *args)
        self.check()
        return out

    def command(self, cmd):
        self.check()
        self.nvim.command(cmd)
        self.check()

    def keys(self, keys):
        self.check()
        self.nvim.input(keys)
        self.check()

    def wait(self, lua_predicate, what, timeout=15.0):
        return wait_for(lambda: self.lua(lua_predicate), timeout, what)

    def idle(self, what="the request to end"):
        self.wait("return package.loaded['frugal.run'] == nil "
                  "or require('frugal.run').in_flight() == 0", what)
        # The message of a reply is shown on the next tick; let it be drawn.
        self.lua("vim.cmd('redraw')")

    def messages(self):
        return self.nvim.exec_lua("return vim.api.nvim_exec('messages', true)")

    def close_frugal_windows(self):
        self.lua("""
          for _, win in ipairs(vim.api.nvim_list_wins()) do
            local name = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win))
            if name:match('^frugal://') and #vim.api.nvim_list_wins() > 1 then
              vim.api.nvim_win_close(win, true)
            end
          end
          vim.cmd('cclose')""")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def ui(host_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("FRUGAL_E2E_KEY", KEY)
    server = Server(tmp_path)
    argv = [NVIM, "--embed", "--clean", "-n", "--cmd", "set rtp^=" + REPO.replace(" ", "\\ ")]
    nvim = pynvim.attach("child", argv=argv)
    nvim.ui_attach(COLUMNS, LINES, rgb=True)
    u = UI(nvim)
    u.server = server
    u.host = host_bin
    u.tmp = tmp_path
    (tmp_path / "Makefile").write_text("all:\n")
    path = tmp_path / "calc.c"
    path.write_text("\n".join(SOURCE) + "\n")
    u.command("edit " + str(path))
    yield u
    try:
        nvim.command("qa!", async_=True)
    except Exception:
        pass
    nvim.close()
    server.stop()


def configure(u, **extra):
    cfg = config(u.server)
    cfg["editor"] = {"host_cmd": [u.host]}
    cfg["ledger"] = {"path": str(u.tmp / "ledger.jsonl")}
    cfg.update(extra)
    ok = u.lua("return require('frugal').setup(...)", cfg)
    assert ok is True


# The words each action needs after it.
ARGS = {"ask": "what does add return", "plan": "make add saturate"}


def test_no_hit_enter_prompt_at_80x24(ui):
    assert ui.lua("return vim.o.columns") == COLUMNS
    # Neovim's own vim.notify is recognised (it echoes, so frugal fits the text itself).
    assert ui.lua("return require('frugal.msg')._builtin_notify()") is True
    # A wrong setup() key: one line, and init.lua would go on.
    assert ui.lua("return (require('frugal').setup({ tiers = { mini = { modle = 'x' } } }))") \
        is False
    ui.lua("vim.cmd('redraw')")
    configure(ui)
    actions = ui.lua("return require('frugal.catalogue').actions")
    assert len(actions) == 13
    for action in actions:
        ui.server.script({"text": "Here is the change.\n\n```c\n" + FIXED_SCOPE + "```\n"})
        ui.lua("vim.api.nvim_win_set_cursor(0, { 6, 0 })")
        ui.command(("Frugal %s %s" % (action, ARGS.get(action, ""))).strip())
        ui.idle("%s to end" % action)
        ui.lua("""
          for _, p in pairs(require('frugal.proposal')._open) do
            require('frugal.proposal').reject(p)
          end""")
        ui.lua("vim.cmd('redraw')")
        ui.close_frugal_windows()
    assert "frugal: explain done" in ui.messages()

    # A proposal accepted from the source buffer with its key (<LocalLeader>a, here \a).
    ui.server.script({"text": "```c\n" + FIXED_SCOPE + "```\n"})
    ui.command("Frugal fix")
    ui.wait("return next(require('frugal.proposal')._open) ~= nil", "the proposal")
    ui.lua("vim.cmd('redraw')")
    assert ui.lua("return vim.api.nvim_buf_get_name(0)").endswith("calc.c")
    ui.keys("\\a")
    ui.wait("return vim.api.nvim_buf_get_lines(0, 5, 6, false)[1] == '\\treturn a + b;'",
            "the accepted edit")
    ui.lua("vim.cmd('redraw')")
    assert "applied to lines" in ui.messages()
    ui.keys("u")
    ui.close_frugal_windows()

    # A plan: made, run from its buffer's key (\\A runs all), each step's proposal accepted.
    ui.server.script({"text": "1. fix calc.c:6 - In add, return a + b instead of a - b.\n"
                              "2. explain calc.c:6 - Say what add returns.\n"},
                     {"text": "```c\n" + FIXED_SCOPE + "```\n"}, {"text": "It adds."})
    ui.command("cd " + str(ui.tmp))  # the project of the plan: the host's directory
    ui.command("Frugal restart")
    ui.command("Frugal plan fix add")
    ui.wait("local p = require('frugal.plan')._plan() return p and #p.steps == 2",
            "the plan buffer")
    ui.lua("vim.cmd('redraw')")
    ui.lua("vim.fn.win_gotoid(vim.fn.bufwinid(require('frugal.plan')._plan().buf))")
    assert ui.lua("return vim.bo.filetype") == "frugalplan"
    ui.keys("\\A")
    ui.wait("return next(require('frugal.proposal')._open) ~= nil", "the step's proposal")
    ui.lua("vim.cmd('redraw')")
    ui.lua("vim.api.nvim_set_current_win(require('frugal.proposal').window())")
    ui.keys("a")
    ui.wait("return require('frugal.plan').status() == ''", "the plan to be done")
    ui.idle()
    assert "frugal: plan done, 2 steps" in ui.messages()
    ui.lua("vim.cmd('silent! %bwipeout! | edit ' .. vim.fn.fnameescape(...))", str(ui.tmp / "calc.c"))
    ui.close_frugal_windows()

    # A 429, retried: said in the status and the header, not on the message line.
    before = len(ui.server.requests())
    ui.server.script({"status": 429, "headers": {"retry-after": "1"}},
                     {"text": "All good after the retry."})
    ui.command("Frugal explain")
    ui.idle()
    assert len(ui.server.requests()) - before == 2
    assert ui.messages().splitlines()[-1].startswith("frugal: explain done")
    ui.close_frugal_windows()

    # A follow-up, then the Mini turn cap; the preview, the cost report and the messages.
    configure(ui, conversation={"max_turns": 2})
    ui.server.script({"text": "It adds."}, {"text": "Really."})
    ui.command("Frugal explain")
    ui.idle()
    ui.command("Frugal again say it again")
    ui.idle()
    ui.command("Frugal again and again")
    ui.idle()
    assert ui.messages().splitlines()[-1].startswith("frugal: 2 mini turns reached")
    for cmd in ("Frugal preview fix", "Frugal cost", "Frugal messages"):
        ui.command(cmd)
        ui.wait("return vim.bo.buftype == 'nofile'", "the window of " + cmd)
        ui.keys("q")
    ui.close_frugal_windows()

    # A budget refusal.
    configure(ui, budget={"daily_usd": 0.000125})
    ui.command("Frugal explain")
    ui.idle()
    # The limit as it was written, and the editor's own way past it.
    assert ui.messages().splitlines()[-1].startswith("frugal: daily budget $0.000125 reached")
    assert "budget=ignore" in ui.messages().splitlines()[-1]

    # A provider that is down: every attempt fails to connect.
    dead = "http://127.0.0.1:%d" % free_port()
    cfg = config(ui.server)
    for t in cfg["tiers"].values():
        t["base_url"] = dead + "/v1"
    configure(ui, tiers=cfg["tiers"])
    ui.command("Frugal explain")
    ui.idle("the request to a server that is down to fail")
    ui.close_frugal_windows()

    # Wrong words and the other commands.
    ui.command("Frugal explian")
    ui.command("Frugal explain tier=huge")
    ui.command("Frugal cancel")
    ui.lua("vim.cmd('redraw')")
    ui.check()
    # Every message of the session fits in one line at 80 columns.
    for line in ui.messages().splitlines():
        assert len(line) < COLUMNS, line
    print(ui.messages())


def test_a_wrong_setup_key_in_init_lua_neither_stops_it_nor_prompts(tmp_path):
    init = tmp_path / "init.lua"
    init.write_text(
        "vim.opt.rtp:prepend(%r)\n"
        "require('frugal').setup({ tiers = { mini = { modle = 'x' } } })\n"
        "vim.g.after_setup = 1\n" % REPO)
    nvim = pynvim.attach("child", argv=[NVIM, "--embed", "-n", "-u", str(init)])
    try:
        nvim.ui_attach(COLUMNS, LINES, rgb=True)
        u = UI(nvim)
        wait_for(lambda: u.lua("return require('frugal.msg').history[1] ~= nil"), 10,
                 "the setup message")
        u.lua("vim.cmd('redraw')")
        assert u.lua("return vim.g.after_setup") == 1
        shown = u.messages().splitlines()
        assert shown and shown[-1].startswith("frugal.setup: unknown key `tiers.mini.modle`")
        assert len(shown[-1]) < COLUMNS
        u.check()
    finally:
        try:
            nvim.command("qa!", async_=True)
        except Exception:
            pass
        nvim.close()


@pytest.fixture
def fake_ui(fake_host_cmd, tmp_path):
    argv = [NVIM, "--embed", "--clean", "-n", "--cmd", "set rtp^=" + REPO.replace(" ", "\\ ")]
    nvim = pynvim.attach("child", argv=argv)
    nvim.ui_attach(COLUMNS, LINES, rgb=True)
    u = UI(nvim)
    u.tmp = tmp_path
    assert u.lua("return require('frugal').setup(...)",
                 {"editor": {"host_cmd": fake_host_cmd}}) is True
    yield u
    try:
        nvim.command("qa!", async_=True)
    except Exception:
        pass
    nvim.close()


def test_multi_file_accept_refusal_and_review_all_raise_no_prompt_at_80x24(fake_ui):
    """With the fake host (the real one gives no `files` yet): a change across three files with
    long paths, refused once and then accepted with the source buffer's key, and review-all
    findings in three files put in the quickfix list, all without a hit-enter prompt."""
    ui = fake_ui
    deep = ui.tmp / ("a-rather-long-directory-name-" * 2) / "nested"
    deep.mkdir(parents=True)
    paths = []
    for name, body in (("first_module.c", "int total(void);\n"),
                       ("second_module.c", "int x = total();\n"),
                       ("third_module.c", "int y = total();\n")):
        p = deep / name
        p.write_text(body)
        paths.append(str(p))
    ui.lua("vim.o.hidden = true")
    for p in reversed(paths):
        ui.command("edit " + p)

    def script(extra=None):
        files = [{"path": p, "new": False, "edits": [
            {"start_line": 1, "end_line": 1,
             "replacement": open(p).read().replace("total", "sum_all")}]} for p in paths]
        result = {"output": "markdown", "files": files}
        result.update(extra or {})
        return {"events": [{"kind": "start"}, {"kind": "text", "text": "Renamed.\n"}],
                "result": result}

    def call(method, params):
        ui.lua("require('frugal.host').call(...)", method, params)

    lines = "vim.api.nvim_buf_get_lines(vim.fn.bufnr(%r), 0, -1, false)[1]"
    call("script", script())
    ui.command("Frugal refactor-files file=%s file=%s rename total" % (paths[1], paths[2]))
    ui.wait("return next(require('frugal.proposal')._open) ~= nil", "the proposal")
    ui.lua("vim.cmd('redraw')")
    # Refused: the third file's line changed since; the message names it, in one line.
    ui.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 1, false, { 'changed' })",
           paths[2])
    ui.keys("\\a")
    ui.wait("return require('frugal.msg').history[#require('frugal.msg').history].text"
            ":find('nothing applied') ~= nil", "the refusal")
    ui.lua("vim.cmd('redraw')")
    assert ui.lua("return " + lines % paths[1]) == "int x = total();"
    # The file's name leads the line, whatever the length of its path.
    assert ui.messages().splitlines()[-1].startswith(
        "frugal: nothing applied: third_module.c changed since the request")
    ui.keys("\\r")
    ui.lua("vim.cmd('redraw')")
    ui.lua("vim.api.nvim_buf_set_lines(vim.fn.bufnr(...), 0, 1, false, { 'int y = total();' })",
           paths[2])
    # Accepted: all three change.
    call("script", script())
    ui.command("Frugal refactor-files file=%s file=%s rename total" % (paths[1], paths[2]))
    ui.wait("return next(require('frugal.proposal')._open) ~= nil", "the proposal")
    ui.lua("vim.cmd('redraw')")
    ui.keys("\\a")
    ui.wait("return %s == 'int y = sum_all();'" % (lines % paths[2]), "the accepted change")
    ui.lua("vim.cmd('redraw')")
    assert "applied to 3 files" in ui.messages()
    ui.close_frugal_windows()

    # review-all: findings in three files, chunked.
    findings = [{"path": p, "line": 1, "end_line": 1, "severity": sev,
                 "message": "a finding with a long message that would not fit " * 3}
                for p, sev in zip(paths, ("error", "warning", "info"))]
    call("script", {"events": [{"kind": "start"}],
                    "result": {"output": "review", "findings": findings, "chunks": 4}})
    ui.command("Frugal review-all file=%s file=%s" % (paths[1], paths[2]))
    ui.wait("return #vim.fn.getqflist() == 3", "the quickfix list")
    ui.lua("vim.cmd('redraw')")
    ui.idle()
    assert "3 findings (4 chunks) in the" in ui.messages()
    assert ui.lua("return vim.bo.buftype") == ""  # the focus stayed in the code
    ui.check()
    for line in ui.messages().splitlines():
        assert len(line) < COLUMNS, line
