-- A proposal waiting for the user's word: a unified diff in a scratch buffer (filetype diff) at
-- the side, with keys to accept it, reject it, or compare both versions side by side.
--
-- What accepting does is the caller's (lua/frugal/run.lua): `on_accept()` returns true when
-- the change was made (the proposal then closes) and false when it was refused (it stays, so
-- the answer can still be read or copied).
local stream = require('frugal.stream')
local util = require('frugal.util')

local M = {}

local seq = 0
local open = {} -- buffer -> proposal, for the ones on screen
M._open = open
local pending = {} -- source buffer -> its proposals waiting, oldest first
M._pending = pending

-- Keys set in the source buffer while one of its proposals waits (|frugal-proposal-keys|);
-- set by setup() (editor.proposal_keys), false for none.
M.source_keys = { accept = '<LocalLeader>a', reject = '<LocalLeader>r', diff = '<LocalLeader>d' }

-- `lhs` as the user types it: <LocalLeader> and <Leader> spelled out.
local function typed(lhs)
  local function leader(name)
    local v = vim.g[name]
    if type(v) ~= 'string' or v == '' then
      v = '\\'
    elseif v == ' ' then
      v = '<Space>'
    end
    return v
  end
  return (lhs:gsub('<[Ll]ocal[Ll]eader>', function()
    return leader('maplocalleader')
  end):gsub('<[Ll]eader>', function()
    return leader('mapleader')
  end))
end
M._typed = typed

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

local function unmap_source(p)
  local list = p.source and pending[p.source]
  if not list then
    return
  end
  for i, q in ipairs(list) do
    if q == p then
      table.remove(list, i)
      break
    end
  end
  if #list == 0 then
    pending[p.source] = nil
    if vim.api.nvim_buf_is_valid(p.source) then
      for _, lhs in pairs(p.mapped or {}) do
        pcall(vim.keymap.del, 'n', lhs, { buffer = p.source })
      end
    end
  end
end

-- Closes the proposal's windows and wipes its buffer; nothing else happens.
function M.close(p)
  if p.closed then
    return
  end
  p.closed = true
  close_tab(p)
  unmap_source(p)
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

-- The proposal the <Plug> mappings and the source buffer's keys act on from buffer `buf`: the
-- one shown in it, else the newest one waiting for it, else the newest one on screen.
function M.target(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  if open[buf] then
    return open[buf]
  end
  local list = pending[buf]
  if list and #list > 0 then
    return list[#list]
  end
  local newest
  for _, p in pairs(open) do
    if not newest or p.seq > newest.seq then
      newest = p
    end
  end
  return newest
end

-- <Plug>(frugal-accept), <Plug>(frugal-reject), <Plug>(frugal-diff).
function M.plug(what)
  local p = M.target()
  if not p then
    util.notify('frugal: no proposal is waiting', vim.log.levels.INFO)
    return
  end
  if what == 'accept' then
    M.accept(p)
  elseif what == 'reject' then
    M.reject(p)
  else
    M.toggle_sides(p)
  end
end

-- Sets the source buffer's keys for `p` (unless the user has a mapping of their own there).
local function map_source(p)
  local keys = M.source_keys
  if not (p.source and keys and vim.api.nvim_buf_is_valid(p.source)) then
    return
  end
  pending[p.source] = pending[p.source] or {}
  table.insert(pending[p.source], p)
  p.mapped = {}
  p.source_keys = {}
  for _, what in ipairs({ 'accept', 'reject', 'diff' }) do
    local lhs = keys[what]
    if type(lhs) == 'string' and lhs ~= '' then
      local existing = vim.fn.maparg(lhs, 'n', false, true)
      local ours = type(existing) == 'table' and existing.desc
        and existing.desc:sub(1, 8) == 'frugal: '
      if type(existing) ~= 'table' or next(existing) == nil or existing.buffer ~= 1 or ours then
        vim.keymap.set('n', lhs, function()
          M.plug(what)
        end, { buffer = p.source, nowait = true, silent = true,
          desc = 'frugal: ' .. what .. ' the proposal' })
        p.mapped[what] = lhs
        p.source_keys[what] = typed(lhs)
      end
    end
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
  seq = seq + 1
  local p = {
    on_accept = spec.on_accept,
    on_reject = spec.on_reject,
    sides = spec.sides,
    source = spec.source,
    seq = seq,
  }
  p.buf = stream.scratch_buf(spec.name or 'proposal', 'diff', spec.lines)
  p.win = stream.show(p.buf, spec.opts, spec.win, false)
  open[p.buf] = p
  M._keys(p, p.buf)
  map_source(p)
  -- Closed some other way (:close, :bwipe): that is a rejection.
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = p.buf,
    once = true,
    callback = function()
      open[p.buf] = nil
      unmap_source(p)
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
