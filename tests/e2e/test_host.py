"""End to end with the real native host (FRUGAL_HOST, default build/frugal): Neovim, the plugin,
the host reading the buffer over RPC, the scanner, the router and the preview window."""
import os
import re
import time

import pytest

from conftest import BACKEND, REPO, start_editor


@pytest.fixture
def real(editor, host_bin):
    editor.setup({"editor": {"host_cmd": [host_bin]}})
    return editor


def field(lines, name):
    """The value of a `Name:   value` line of the preview."""
    for line in lines:
        if line.startswith(name + ":"):
            return line[len(name) + 1:].strip()
    pytest.fail("no %r line in the preview:\n%s" % (name, "\n".join(lines)))


def context_rows(lines):
    """(kind, label, lines, tokens) for each row of the Context table."""
    rows = []
    start = next(i for i, l in enumerate(lines) if l.startswith("Context ("))
    for line in lines[start + 2:]:
        if not line.startswith("  "):
            break
        m = re.match(r"^  (\S+)\s+(.*?)\s+(\d+(?:-\d+)?)\s+([\d,]+)$", line)
        assert m, "unexpected context row: %r" % line
        rows.append((m.group(1), m.group(2), m.group(3), int(m.group(4).replace(",", ""))))
    return rows


def package_tokens(lines):
    m = re.match(r"^([\d,]+) tokens; whole file: ([\d,]+) tokens \((\d+\.\d)% of the file\)$",
                 field(lines, "Package"))
    assert m, field(lines, "Package")
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", "")), float(m.group(3))


def test_tests_preview_in_a_c_function_packages_it_for_mini(real):
    real.edit("parser.c", 30, 5)
    real.nvim.command("Frugal preview tests")
    lines = real.wait_preview()
    assert lines[0] == "frugal preview: tests"
    assert field(lines, "Tier") == "mini (gpt-5.4-mini)"
    assert any(l.startswith("  - tests: ") for l in lines), lines
    assert field(lines, "Scope") == "function parse_header, lines 22-38"
    assert field(lines, "File").endswith("parser.c (c)")
    rows = context_rows(lines)
    kind, label, span, tokens = rows[0]
    assert (label, span) == ("parse_header", "22-38")
    assert tokens > 50
    # The helpers it calls are sent as signatures only.
    labels = [r[1] for r in rows]
    assert "read_u32" in labels and "read_u16" in labels
    total, whole, share = package_tokens(lines)
    assert total == sum(r[3] for r in rows)
    assert 0 < total < whole
    assert re.match(r"^[\d,]+ input \+ [\d,]+ output tokens$", field(lines, "Estimate"))
    assert re.search(r"^  on mini \(gpt-5\.4-mini\): \$\d+\.\d{4}$", "\n".join(lines), re.M)
    assert re.search(r"^  on full:\s+\$\d+\.\d{4}$", "\n".join(lines), re.M)
    assert "  | int parse_header(const unsigned char *buf, size_t len, struct header *out)" \
        in lines


def test_python_method_is_the_scope(real):
    real.edit("inventory.py", 20, 9)
    real.nvim.command("Frugal preview explain")
    lines = real.wait_preview()
    assert re.match(r"^(method|function) (Inventory\.)?add, lines 16-24$", field(lines, "Scope"))
    assert field(lines, "File").endswith("inventory.py (python)")
    assert field(lines, "Tier") == "mini (gpt-5.4-mini)"


def test_unsaved_changes_are_what_the_host_reads(real):
    real.edit("parser.c", 1)
    real.nvim.current.buffer.append(["", "int added_in_buffer(int x)", "{", "  return x + 1;",
                                     "}"])
    n = len(real.nvim.current.buffer)
    real.nvim.current.window.cursor = (n - 1, 2)
    real.nvim.command("Frugal preview docs")
    lines = real.wait_preview()
    assert field(lines, "Scope") == "function added_in_buffer, lines %d-%d" % (n - 3, n)


def test_visual_selection_is_the_scope(real):
    real.edit("parser.c", 27)
    real.nvim.feedkeys(real.nvim.replace_termcodes("Vjj:Frugal preview refactor<CR>"), "x")
    lines = real.wait_preview()
    assert field(lines, "Scope") == "selection, lines 27-29"
    assert context_rows(lines)[0][2] == "27-29"


def test_bang_sends_explain_to_full(real):
    real.edit("parser.c", 30)
    real.nvim.command("Frugal! preview explain")
    lines = real.wait_preview()
    assert field(lines, "Tier") == "full (gpt-5.4) [forced]"
    assert any("forced" in l for l in lines if l.startswith("  - "))


def test_tier_argument_sends_to_full(real):
    real.edit("parser.c", 30)
    real.nvim.command("Frugal preview fix tier=full")
    lines = real.wait_preview()
    assert field(lines, "Tier") == "full (gpt-5.4) [forced]"


def test_design_goes_to_full_without_forcing(real):
    real.edit("parser.c", 30)
    real.nvim.command("Frugal preview design")
    lines = real.wait_preview()
    assert field(lines, "Tier") == "full (gpt-5.4)"


def test_diagnostic_in_the_function_is_part_of_the_package(real):
    real.edit("parser.c", 30)
    real.lua("""
      local ns = vim.api.nvim_create_namespace('frugal_test')
      vim.diagnostic.set(ns, 0, {
        { lnum = 27, col = 2, severity = vim.diagnostic.severity.ERROR,
          message = 'comparison of magic with wrong constant', source = 'test' },
      })""")
    real.nvim.command("Frugal preview fix")
    lines = real.wait_preview()
    rows = context_rows(lines)
    assert any(r[2] == "28" and "diag" in r[0] for r in rows), rows


def test_configured_model_without_price_shows_unknown_price(editor, host_bin):
    editor.setup({"editor": {"host_cmd": [host_bin]},
                  "tiers": {"mini": {"provider": "openai-chat", "model": "local-qwen",
                                     "base_url": "http://127.0.0.1:8080/v1"}}})
    editor.edit("parser.c", 30)
    editor.nvim.command("Frugal preview explain")
    first = editor.wait_preview()
    assert field(first, "Tier") == "mini (local-qwen)"
    assert "  on mini (local-qwen): unknown price" in first

    editor.setup({"editor": {"host_cmd": [host_bin]},
                  "tiers": {"mini": {"model": "local-qwen"}},
                  "prices": {"local-qwen": {"input": 0.5, "output": 1.0}}})
    editor.nvim.command("Frugal preview explain")
    second = editor.wait_preview(previous=first)
    assert re.search(r"^  on mini \(local-qwen\): \$\d+\.\d{4}$", "\n".join(second), re.M)


@pytest.mark.skipif(BACKEND == "inprocess",
                    reason="the in-process backend has no process of its own to kill")
def test_killed_host_is_reported_and_the_next_call_restarts_it(real):
    real.edit("parser.c", 30)
    real.nvim.command("Frugal preview tests")
    first = real.wait_preview()
    pid = real.lua("return require('frugal.host').pid()")
    os.kill(pid, 9)
    msg = real.wait_error("exit code")[0]
    assert "the host exited unexpectedly" in msg
    real.nvim.command("Frugal preview explain")
    second = real.wait_preview(previous=first)
    assert second[0] == "frugal preview: explain"
    assert field(second, "Scope") == "function parse_header, lines 22-38"
    new_pid = real.lua("return require('frugal.host').pid()")
    assert new_pid and new_pid != pid
    assert len(real.errors()) == 1


def test_checkhealth_runs_the_host_and_compares_versions(real):
    real.nvim.command("checkhealth frugal")
    text = "\n".join(real.nvim.current.buffer[:])
    for section in ("frugal: build", "frugal: host version", "frugal: configuration",
                    "frugal: provider keys"):
        assert section in text
    assert "host found: " in text
    assert "library found: " in text
    assert re.search(r"version 0\.1\.0, libuv 1\.\d+\.\d+, msgpack \d+\.\d+\.\d+, "
                     r"curl \d+\.\d+\.\d+, jansson \d+\.\d+", text), text
    assert "host version 0.1.0 matches the plugin" in text
    # Each tier as the host will use it, the ledger and today's spend, the budget.
    # (no setup tiers: the host's defaults; nothing is contacted unless g:frugal_health_ping)
    assert "mini: openai gpt-5.4-mini at https://api.openai.com/v1 (key $OPENAI_API_KEY)" in text
    assert "full: openai gpt-5.4 at https://api.openai.com/v1" in text
    assert "frugal: ledger and budget" in text and "ledger: " in text
    assert "spent today: " in text and "budget: " in text


def test_works_without_setup_from_a_plugin_directory(tmp_path, host_bin):
    # A plugin directory laid out like an install: lua/, plugin/ and build/ side by side.
    os.symlink(os.path.join(REPO, "lua"), tmp_path / "lua")
    os.symlink(os.path.join(REPO, "plugin"), tmp_path / "plugin")
    build = tmp_path / "build"
    build.mkdir()
    host_dir = os.path.dirname(os.path.abspath(host_bin))
    os.symlink(os.path.abspath(host_bin), build / "frugal")
    for name in os.listdir(host_dir):
        if name.startswith("libfrugal.so"):
            os.symlink(os.path.join(host_dir, name), build / name)
    ed = start_editor(str(tmp_path))
    try:
        ed.edit("parser.c", 30)
        ed.nvim.command("Frugal preview tests")
        lines = ed.wait_preview()
        assert field(lines, "Scope") == "function parse_header, lines 22-38"
        assert ed.lua("return require('frugal.host')._state.cmd[1]") == str(build / "frugal")
    finally:
        ed.nvim.command("qa!", async_=True)
        ed.nvim.close()


def test_preview_round_trip_is_fast(real, record_property):
    real.edit("parser.c", 30)
    real.nvim.command("Frugal preview tests")  # includes the host's start
    first = real.wait_preview()
    t0 = time.monotonic()
    real.nvim.command("Frugal preview explain")
    real.wait_preview(previous=first)
    elapsed = time.monotonic() - t0
    record_property("preview_round_trip_s", elapsed)
    assert elapsed < 1.0


def test_unnamed_buffer_without_functions_gets_lines_around_the_cursor(real):
    real.nvim.current.buffer[:] = ["alpha", "beta", "gamma"]
    real.nvim.current.window.cursor = (2, 0)
    real.nvim.command("Frugal preview explain")
    lines = real.wait_preview()
    assert field(lines, "Scope") == "lines 1-3 around the cursor"
    assert field(lines, "File").startswith("[No Name] (")


def test_treesitter_function_is_the_scope_where_the_scanner_reads_nothing(real, tmp_path):
    """Vimscript: the scanner does not read it; the editor's tree-sitter function is the
    scope (Neovim 0.10 and later ship the Vimscript parser)."""
    if real.lua("return vim.fn.has('nvim-0.10')") == 0:
        pytest.skip("tree-sitter hints need Neovim 0.10 or later")
    path = tmp_path / "greet.vim"
    path.write_text('" greets\nlet g:greeting = "hi"\nfunction! Greet(name) abort\n'
                    '  echo g:greeting . " " . a:name\nendfunction\n\ncall Greet("a")\n')
    real.nvim.command("edit " + str(path))
    # What a UI's redraw does: highlight with tree-sitter, which keeps the tree parsed.
    real.lua("vim.treesitter.start(0, 'vim'); vim.treesitter.get_parser(0):parse()")
    real.nvim.current.window.cursor = (4, 3)
    real.nvim.command("Frugal preview explain")
    lines = real.wait_preview()
    assert field(lines, "Scope") == "function, lines 3-5"
