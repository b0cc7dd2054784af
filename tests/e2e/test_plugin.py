"""The plugin's own behaviour, against the fake host (tests/e2e/fake_host.py) that speaks the real
protocol: these run whether or not the native host is built."""
import json as jsonlib
import os
import re

import pytest

from conftest import REPO, wait_for


@pytest.fixture
def faked(editor, fake_host_cmd):
    editor.setup({"editor": {"host_cmd": fake_host_cmd}})
    return editor


def test_plugin_defines_command_without_loading_modules(editor):
    loaded = editor.lua("""
      return {
        cmd = vim.fn.exists(':Frugal'),
        frugal = package.loaded['frugal'] ~= nil,
        host = package.loaded['frugal.host'] ~= nil,
      }""")
    assert loaded == {"cmd": 2, "frugal": False, "host": False}


def test_plugin_file_sourced_twice_defines_command_once(editor):
    editor.nvim.command("source " + os.path.join(REPO, "plugin", "frugal.lua"))
    editor.nvim.command("runtime! plugin/frugal.lua")
    assert editor.nvim.eval("exists(':Frugal')") == 2
    assert editor.errors() == []


def test_preview_shows_route_context_totals_and_estimate(faked):
    faked.edit("parser.c", 30, 5)
    faked.nvim.command("Frugal preview tests")
    lines = faked.wait_preview()
    text = "\n".join(lines)
    assert lines[0] == "frugal preview: tests"
    assert re.search(r"^Tier:\s+mini \(gpt-5\.4-mini\)$", text, re.M)
    assert "  - fake host: tests -> Mini" in lines
    assert re.search(r"^Scope:\s+function fake_scope, lines 29-31$", text, re.M)
    assert re.search(r"^File:\s+.*parser\.c \(c\)$", text, re.M)
    assert re.search(r"^\s+scope\s+fake_scope\s+29-31\s+\d+$", text, re.M)
    assert re.search(r"^Package:\s+\d+ tokens; whole file: [\d,]+ tokens \(\d+\.\d% of the file\)$",
                     text, re.M)
    assert re.search(r"^Estimate:\s+[\d,]+ input \+ 900 output tokens$", text, re.M)
    assert re.search(r"^  on mini \(gpt-5\.4-mini\): \$\d+\.\d{4}$", text, re.M)
    assert re.search(r"^  on full:\s+\$\d+\.\d{4}$", text, re.M)
    assert "Sending to a model is not available" not in text
    # The first lines of the scope itself.
    assert "  |   out->version = read_u16(buf + 4);" in lines


def test_preview_window_is_a_scratch_buffer_closed_by_q(faked):
    faked.edit("parser.c", 30)
    faked.nvim.command("Frugal preview explain")
    faked.wait_preview()
    opts = faked.lua("""
      local buf = vim.api.nvim_get_current_buf()
      return {
        buftype = vim.api.nvim_buf_get_option(buf, 'buftype'),
        bufhidden = vim.api.nvim_buf_get_option(buf, 'bufhidden'),
        modifiable = vim.api.nvim_buf_get_option(buf, 'modifiable'),
        float = vim.api.nvim_win_get_config(0).relative ~= '',
        wins = #vim.api.nvim_list_wins(),
      }""")
    assert opts == {"buftype": "nofile", "bufhidden": "wipe", "modifiable": False,
                    "float": True, "wins": 2}
    faked.nvim.feedkeys("q", "x")
    wait_for(lambda: faked.preview() is None, 5, "the preview to close")
    assert len(faked.nvim.windows) == 1


def test_preview_in_a_split_when_configured(editor, fake_host_cmd):
    editor.setup({"editor": {"host_cmd": fake_host_cmd, "preview": {"style": "split"}}})
    editor.edit("parser.c", 30)
    editor.nvim.command("Frugal preview explain")
    editor.wait_preview()
    assert editor.lua("return vim.api.nvim_win_get_config(0).relative") == ""
    assert len(editor.nvim.windows) == 2


def test_range_sends_the_selection(faked):
    faked.edit("parser.c", 1)
    faked.nvim.command("24,27Frugal preview refactor make it shorter")
    text = "\n".join(faked.wait_preview())
    assert re.search(r"^Scope:\s+selection, lines 24-27$", text, re.M)
    assert "Request:   make it shorter" in text


def test_visual_mode_selection_becomes_the_range(faked):
    faked.edit("parser.c", 24)
    faked.nvim.feedkeys(faked.nvim.replace_termcodes("Vjj:Frugal preview explain<CR>"), "x")
    text = "\n".join(faked.wait_preview())
    assert re.search(r"^Scope:\s+selection, lines 24-26$", text, re.M)


def test_bang_and_tier_argument_force_the_full_tier(faked):
    faked.edit("parser.c", 30)
    faked.nvim.command("Frugal! preview explain")
    first = faked.wait_preview()
    assert "Tier:      full (gpt-5.4) [forced]" in first
    assert "  - tier forced by the user -> Full" in first
    faked.nvim.command("Frugal preview docs tier=full")
    second = faked.wait_preview(previous=first)
    assert second[0] == "frugal preview: docs"
    assert "Tier:      full (gpt-5.4) [forced]" in second


def test_config_reaches_the_host_and_unknown_price_is_shown(editor, fake_host_cmd):
    editor.setup({"editor": {"host_cmd": fake_host_cmd},
                  "tiers": {"mini": {"model": "no-price-mini"}},
                  "actions": {"review": {"tier": "full"}}})
    editor.edit("parser.c", 30)
    editor.nvim.command("Frugal preview explain")
    first = editor.wait_preview()
    assert "Tier:      mini (no-price-mini)" in first
    assert "  on mini (no-price-mini): unknown price" in first
    editor.nvim.command("Frugal preview review")
    second = editor.wait_preview(previous=first)
    assert "Tier:      full (gpt-5.4)" in second


def test_diagnostics_of_the_buffer_are_sent(faked):
    faked.edit("parser.c", 30)
    faked.lua("""
      local ns = vim.api.nvim_create_namespace('frugal_test')
      vim.diagnostic.set(ns, 0, {
        { lnum = 28, col = 2, severity = vim.diagnostic.severity.WARN, message = 'magic' },
      })""")
    faked.nvim.command("Frugal preview fix")
    text = "\n".join(faked.wait_preview())
    assert re.search(r"^\s+diagnostic\s+warning\s+29\s+7$", text, re.M)


def test_unknown_action_and_bad_tier_are_reported(faked):
    faked.nvim.command("Frugal preview explian")
    faked.wait_error('unknown action "explian"')
    faked.nvim.command("Frugal explain tier=huge")
    faked.wait_error("tier=huge: expected tier=mini or tier=full")
    assert faked.lua("return require('frugal.host').running()") is False


def test_frugal_alone_or_preview_alone_opens_the_action_menu(faked):
    faked.edit("parser.c", 30)
    faked.lua("""
      _G.menus = {}
      vim.ui.select = function(items, opts, on_choice)
        table.insert(_G.menus, { items = items, prompt = opts.prompt,
                                 first = opts.format_item(items[1]) })
        _G.choose = on_choice
      end""")
    faked.nvim.command("Frugal")
    faked.nvim.command("Frugal preview")
    menus = faked.lua("return _G.menus")
    assert [m["prompt"] for m in menus] == ["frugal action", "frugal preview"]
    assert menus[0]["items"][:3] == ["explain", "fix", "refactor"]
    assert menus[0]["first"].startswith("explain") and "explain the code" in menus[0]["first"]
    assert not faked.errors()
    # Choosing from the preview menu previews that action for the code at the cursor.
    faked.lua("_G.choose('explain')")
    lines = faked.wait_preview()
    assert lines[0] == "frugal preview: explain"


def test_completion_offers_actions_then_options(editor):
    def complete(line):
        return editor.nvim.call("getcompletion", line, "cmdline")
    assert complete("Frugal ") == ["explain", "fix", "refactor", "docs", "implement", "tests",
                                   "review", "ask", "design", "optimize", "refactor-files",
                                   "review-all", "plan", "preview", "again", "cost", "cancel",
                                   "messages", "restart"]
    assert complete("Frugal preview t") == ["tests"]
    assert complete("'<,'>Frugal! preview ex") == ["explain"]
    assert complete("Frugal explain tier=") == ["tier=mini", "tier=full"]


def test_host_crash_fails_pending_call_is_reported_and_restarts(faked):
    faked.edit("parser.c", 30)
    faked.lua("""
      _G.held = nil
      require('frugal.host').call('hold', {}, function(err) _G.held = err or 'answered' end)""")
    pid1 = wait_for(lambda: faked.lua("return require('frugal.host').pid()"), 5, "the host")
    faked.lua("require('frugal.host').call('crash', {code = 3})")
    msg = faked.wait_error("exit code 3")[0]
    assert "the host exited unexpectedly" in msg
    assert "fake host: crashing as asked" in msg
    held = wait_for(lambda: faked.lua("return _G.held"), 5, "the held call to fail")
    assert "exit code 3" in held
    assert faked.lua("return require('frugal.host').running()") is False

    faked.nvim.command("Frugal preview tests")
    lines = faked.wait_preview()
    assert lines[0] == "frugal preview: tests"
    pid2 = faked.lua("return require('frugal.host').pid()")
    assert pid2 and pid2 != pid1
    assert len(faked.errors()) == 1


def test_killed_host_is_reported_with_its_exit_code(faked):
    faked.edit("parser.c", 30)
    faked.nvim.command("Frugal preview tests")
    first = faked.wait_preview()
    pid = faked.lua("return require('frugal.host').pid()")
    os.kill(pid, 9)
    faked.wait_error("exit code")
    # Run from inside the preview window: the request is still about parser.c.
    faked.nvim.command("Frugal preview explain")
    lines = faked.wait_preview(previous=first)
    assert lines[0] == "frugal preview: explain"
    assert any(l.startswith("File:") and l.endswith("parser.c (c)") for l in lines)


def test_quitting_neovim_is_not_reported_as_a_crash(faked):
    faked.lua("require('frugal.host').start()")
    faked.lua("require('frugal.host').stop()")
    wait_for(lambda: faked.lua("return not require('frugal.host').running()"), 5, "the stop")
    assert faked.errors() == []


def test_missing_host_is_reported_with_how_to_build_it(editor):
    editor.setup({"editor": {"host_cmd": ["/nonexistent/frugal"]}})
    editor.edit("parser.c", 30)
    editor.nvim.command("Frugal preview tests")
    msg = editor.wait_error("host not found")[0]
    assert "/nonexistent/frugal" in msg and "make" in msg


def test_configuration_rejected_by_the_host_is_reported(editor, fake_host_cmd):
    # Valid for the plugin's schema; the (fake) host has the last word and says no.
    editor.setup({"editor": {"host_cmd": fake_host_cmd},
                  "tiers": {"mini": {"model": "rejected-by-host"}}})
    editor.lua("require('frugal.host').start()")
    msg = editor.wait_error("rejected the configuration")[0]
    assert "tiers.mini.model" in msg


def test_unknown_method_error_reaches_the_callback(editor, fake_host_cmd):
    editor.setup({"editor": {"host_cmd": fake_host_cmd}})
    editor.lua("""
      _G.answer = nil
      require('frugal.host').call('no_such_method', {}, function(err) _G.answer = err end)""")
    answer = wait_for(lambda: editor.lua("return _G.answer"), 5, "the answer")
    assert answer == "unknown method: no_such_method"


@pytest.mark.parametrize("opts, message", [
    ({"tiers": {"mini": {"modle": "x"}}}, "unknown key `tiers.mini.modle`"),
    ({"tiers": {"medium": {}}}, "unknown key `tiers.medium`"),
    ({"tiers": {"full": {"provider": "openia"}}},
     "`tiers.full.provider` should be one of openai, openai-chat, anthropic"),
    ({"tiers": {"full": {"max_output_tokens": "8k"}}},
     "`tiers.full.max_output_tokens` should be a positive integer"),
    ({"tiers": {"mini": {"context_budget": 1.5}}},
     "`tiers.mini.context_budget` should be a positive integer"),
    ({"prices": {"my-model": {"inptu": 1}}}, "unknown key `prices.my-model.inptu`"),
    ({"prices": {"my-model": {"output": -1}}}, "`prices.my-model.output` should be a number >= 0"),
    ({"actions": {"reviw": {"tier": "full"}}}, "unknown key `actions.reviw`"),
    ({"actions": {"review": {"tier": "large"}}},
     "`actions.review.tier` should be one of mini, full"),
    ({"ledger": {"path": 3}}, "`ledger.path` should be a non-empty string"),
    ({"budget": {"daily": 1}}, "unknown key `budget.daily`"),
    ({"editor": {"preview": {"style": "tab"}}}, "`editor.preview.style` should be one of float"),
    ({"editor": {"host_cmd": 5}}, "`editor.host_cmd` should be a command"),
    ({"tier": {}}, "unknown key `tier`"),
])
def test_setup_rejects_bad_keys_naming_them(editor, opts, message):
    # setup() never raises (the rest of init.lua goes on): it returns false and the error, and
    # shows it in one line.
    err = editor.lua("""
      local pok, ok, err = pcall(require('frugal').setup, ...)
      if not pok then return 'raised: ' .. tostring(ok) end
      return ok and 'accepted' or err""", opts)
    assert message in err
    assert err.startswith("frugal.setup: ")
    assert any(message in m for m in wait_for(editor.errors, 5, "the message"))


def test_setup_accepts_the_whole_contract_and_sends_json_without_editor(editor):
    opts = {
        "tiers": {
            "mini": {"provider": "openai-chat", "model": "qwen", "base_url": "http://x/v1",
                     "api_key_env": "MY_KEY", "max_output_tokens": 100, "context_tokens": 8000,
                     "context_budget": 3000},
            "full": {"provider": "anthropic", "model": "claude"},
        },
        "prices": {"qwen": {"input": 0, "cached_input": 0, "output": 0, "cache_write": 0}},
        "actions": {"review": {"tier": "full"}},
        "ledger": {"path": "/tmp/ledger.jsonl"},
        "budget": {"daily_usd": 1.5, "monthly_usd": 20},
        "editor": {"host_cmd": "/bin/true", "preview": {"border": "single"}},
    }
    sent = editor.lua("""
      require('frugal').setup(...)
      return {
        json = vim.fn.json_decode(require('frugal.host')._state.config_json),
        cmd = require('frugal.host').command(),
      }""", opts)
    expected = dict(opts)
    del expected["editor"]
    assert sent["json"] == expected
    assert sent["cmd"] == ["/bin/true"]


def test_setup_with_nulls_and_empty_tables(editor):
    json = editor.lua("""
      require('frugal').setup({ ledger = { path = vim.NIL }, prices = {}, tiers = { mini = {} } })
      local a = require('frugal.host')._state.config_json
      require('frugal').setup({ editor = { preview = { style = 'float' } } })
      local b = require('frugal.host')._state.config_json
      require('frugal').setup()
      return { a, b or 'none', require('frugal.host')._state.config_json or 'none' }""")
    assert jsonlib.loads(json[0]) == {"ledger": {"path": None}}
    assert json[1:] == ["none", "none"]


def test_checkhealth_reports_every_section(editor, fake_host_cmd):
    editor.setup({"editor": {"host_cmd": fake_host_cmd},
                  "tiers": {"full": {"api_key_env": "FRUGAL_TEST_KEY"}}})
    editor.nvim.command("checkhealth frugal")
    text = "\n".join(editor.nvim.current.buffer[:])
    for section in ("frugal: build", "frugal: host version", "frugal: configuration",
                    "frugal: provider keys"):
        assert section in text
    assert "version 0.1.0, libuv fake, msgpack fake, curl fake, jansson fake" in text
    assert "host version 0.1.0 matches the plugin" in text
    assert "setup() options are valid" in text
    assert "$OPENAI_API_KEY" in text and "$FRUGAL_TEST_KEY is not set" in text


def test_checkhealth_names_set_keys_without_their_values(fake_host_cmd, monkeypatch):
    from conftest import start_editor
    monkeypatch.setenv("FRUGAL_TEST_KEY", "sk-secret-value-123")
    ed = start_editor()
    try:
        ed.setup({"editor": {"host_cmd": fake_host_cmd},
                  "tiers": {"mini": {"api_key_env": "FRUGAL_TEST_KEY"}}})
        ed.nvim.command("checkhealth frugal")
        text = "\n".join(ed.nvim.current.buffer[:])
        assert "$FRUGAL_TEST_KEY is set" in text
        assert "sk-secret" not in text
    finally:
        ed.nvim.command("qa!", async_=True)
        ed.nvim.close()


def test_crash_during_a_preview_is_reported_once(faked):
    faked.edit("parser.c", 30)
    faked.lua("""
      local host = require('frugal.host')
      host.start()
      -- Queued before the preview, so the host dies with the preview unanswered.
      host.call('crash', {code = 7})
      vim.cmd('Frugal preview tests')""")
    faked.wait_error("exit code 7")
    wait_for(lambda: faked.lua("return require('frugal.host').pending_count() == 0"), 5,
             "the preview call to fail")
    faked.nvim.command("sleep 100m")
    assert len(faked.errors()) == 1
    assert faked.preview() is None


def test_host_error_for_a_preview_is_shown_to_the_user(faked):
    faked.edit("parser.c", 30)
    faked.nvim.command("Frugal preview ask please fail")
    msg = faked.wait_error("refused")[0]
    assert msg == "frugal: fake host: refused the request"
    assert faked.preview() is None


def test_cmd_mapping_in_visual_mode_uses_the_selection(faked):
    faked.nvim.command("xnoremap <F5> <Cmd>Frugal preview explain<CR>")
    faked.edit("parser.c", 31)
    faked.nvim.feedkeys(faked.nvim.replace_termcodes("Vjj<F5>"), "x")
    text = "\n".join(faked.wait_preview())
    assert re.search(r"^Scope:\s+selection, lines 31-33$", text, re.M)


def wrapped(lines):
    """The preview's text with its wrapped lines joined: words separated by single spaces."""
    return " ".join(" ".join(l.split()) for l in lines)


def test_file_arguments_and_the_buffers_keyword_are_sent_as_files(faked):
    other = os.path.join(REPO, "tests", "e2e", "fixtures", "inventory.py")
    faked.edit("parser.c", 30)
    faked.nvim.command("Frugal preview explain file=" + other)
    first = faked.wait_preview()
    # the preview wraps long lines at the window's width, so a long checkout path may start a
    # line of its own: the reason is read across the wrap
    assert "- other file: " + other in wrapped(first)
    assert "Tier:      full (gpt-5.4)" in first
    # A listed buffer is never sent on its own, even for an action across files ...
    faked.nvim.command("badd " + other)
    faked.nvim.command("Frugal preview design")
    second = faked.wait_preview(previous=first)
    assert second[0] == "frugal preview: design"
    assert not [l for l in second if "other file" in l]
    # ... only when the user says so.
    faked.nvim.command("Frugal preview design buffers")
    third = faked.wait_preview(previous=second)
    assert "- other file: " + other in wrapped(third)


def test_plug_mappings_run_an_action_and_none_is_mapped_by_default(faked):
    faked.edit("parser.c", 30)
    assert faked.lua("return vim.fn.maparg('<Plug>(frugal-explain)', 'n') ~= ''")
    assert faked.lua("return vim.fn.maparg('<Plug>(frugal-menu)', 'x') ~= ''")
    # No key of frugal's in a buffer, nor globally.
    assert not faked.lua("""
      for _, m in ipairs(vim.api.nvim_get_keymap('n')) do
        if (m.desc or ''):match('^frugal') and not m.lhs:match('Plug') then return true end
      end
      return false""")
    faked.lua("vim.keymap.set('n', '<F5>', '<Plug>(frugal-preview-menu)')")
    faked.lua("""
      vim.ui.select = function(items, opts, on_choice) on_choice('explain') end""")
    faked.nvim.input("<F5>")
    assert faked.wait_preview()[0] == "frugal preview: explain"
