-- A proposal waiting for the user's word: a unified diff in a scratch buffer (filetype diff) at
-- the side, with keys to accept it, reject it, or compare both versions side by side.
--
-- What accepting does is the caller's (lua/frugal/run.lua): `on_accept()` returns true when
-- the change was made (the proposal then closes) and false when it was refused (it stays, so
-- the answer can still be read or copied).
local stream = require('frugal.stream')
local util = require('frugal.util')

local M = {}

local open = {} -- buffer -> proposal, for the ones on screen
M._open = open

-- `hunks` is vim.diff's unified text between two line lists; its line numbers count from the
-- first line of the region, so `offset` (lines before the region) is added to show file lines.
function M.unified(a_lines, b_lines, offset)
  local diff = util.text_diff(util.lines_text(a_lines), util.lines_text(b_lines),
    { result_type = 'unified', ctxlen = 3 })
  local out = {}
  for _, line in ipairs(util.text_lines(diff or '')) do
    local a, ac, b, bc = line:match('^@@ %-(%d+)(,?%d*) %+(%d+)(,?%d*) @@')
    if a then
      line = string.format('@@ -%d%s +%d%s @@', tonumber(a) + offset, ac, tonumber(b) + offset,
        bc)
    end
    out[#out + 1] = line
  end
  return out
end

local function close_tab(p)
  if p.tab and vim.api.nvim_tabpage_is_valid(p.tab) then
    local tab = p.tab
    p.tab = nil
    for _, win in ipairs(vim.api.nvim_tabpage_list_wins(tab)) do
      pcall(vim.api.nvim_win_close, win, true)
    end
  end
  p.tab = nil
end

-- Closes the proposal's windows and wipes its buffer; nothing else happens.
function M.close(p)
  if p.closed then
    return
  end
  p.closed = true
  close_tab(p)
  open[p.buf] = nil
  if vim.api.nvim_buf_is_valid(p.buf) then
    for _, win in ipairs(vim.fn.win_findbuf(p.buf)) do
      pcall(vim.api.nvim_win_close, win, true)
    end
    if vim.api.nvim_buf_is_valid(p.buf) then
      -- The last window cannot be closed: the buffer goes and another takes its place.
      pcall(vim.api.nvim_buf_delete, p.buf, { force = true })
    end
  end
end

function M.accept(p)
  if p.closed then
    return
  end
  close_tab(p)
  if p.on_accept and p.on_accept() then
    p.decided = true
    M.close(p)
  end
end

function M.reject(p)
  if p.closed then
    return
  end
  p.decided = true
  M.close(p)
  if p.on_reject then
    p.on_reject()
  end
end

-- Both versions side by side in a new tab page, in diff mode; `d` again goes back.
function M.toggle_sides(p)
  if p.tab and vim.api.nvim_tabpage_is_valid(p.tab) then
    close_tab(p)
    local win = vim.fn.win_findbuf(p.buf)[1]
    if win then
      vim.api.nvim_set_current_win(win)
    end
    return
  end
  if not p.sides then
    util.notify('frugal: nothing to compare side by side', vim.log.levels.INFO)
    return
  end
  local ft = p.sides.filetype or ''
  local left = stream.scratch_buf('original', ft, p.sides.before)
  local right = stream.scratch_buf('proposed', ft, p.sides.after)
  vim.cmd('tab sbuffer ' .. left)
  p.tab = vim.api.nvim_get_current_tabpage()
  local lwin = vim.api.nvim_get_current_win()
  vim.cmd('rightbelow vertical sbuffer ' .. right)
  local rwin = vim.api.nvim_get_current_win()
  for _, win in ipairs({ lwin, rwin }) do
    vim.api.nvim_win_call(win, function()
      vim.cmd('diffthis')
    end)
  end
  for _, buf in ipairs({ left, right }) do
    M._keys(p, buf)
  end
end

function M._keys(p, buf)
  local function map(lhs, fn)
    vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true, silent = true })
  end
  map('a', function() M.accept(p) end)
  map('<CR>', function() M.accept(p) end)
  map('r', function() M.reject(p) end)
  map('q', function() M.reject(p) end)
  map('d', function() M.toggle_sides(p) end)
end

-- Shows a proposal. `spec`: {name, lines (the diff with its header), on_accept, on_reject,
-- sides = {before, after, filetype} or nil, opts (editor.stream), win (a window to show it in,
-- replacing what it shows)}. Returns the proposal object.
function M.show(spec)
  local p = {
    on_accept = spec.on_accept,
    on_reject = spec.on_reject,
    sides = spec.sides,
  }
  p.buf = stream.scratch_buf(spec.name or 'proposal', 'diff', spec.lines)
  p.win = stream.show(p.buf, spec.opts, spec.win, false)
  open[p.buf] = p
  M._keys(p, p.buf)
  -- Closed some other way (:close, :bwipe): that is a rejection.
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = p.buf,
    once = true,
    callback = function()
      open[p.buf] = nil
      if not p.decided then
        p.decided = true
        p.closed = true
        close_tab(p)
        if p.on_reject then
          vim.schedule(p.on_reject)
        end
      end
    end,
  })
  return p
end

-- The proposal shown in buffer `buf`, or nil.
function M.get(buf)
  return open[buf]
end

return M
