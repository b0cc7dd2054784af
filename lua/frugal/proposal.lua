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

-- The proposals waiting, oldest first.
function M.list()
  local list = {}
  for _, p in pairs(open) do
    list[#list + 1] = p
  end
  table.sort(list, function(a, b)
    return a.seq < b.seq
  end)
  return list
end

-- The one window proposals are shown in, when one shows a proposal.
function M.window()
  for _, p in ipairs(M.list()) do
    if vim.api.nvim_buf_is_valid(p.buf) then
      local win = vim.fn.win_findbuf(p.buf)[1]
      if win then
        return win
      end
    end
  end
  return nil
end

-- Writes the proposal's lines again: its title as of now (where its region is now) and, when
-- more wait, the list of them.
local function render(p)
  if not vim.api.nvim_buf_is_valid(p.buf) then
    return
  end
  local lines = vim.deepcopy(p.lines)
  if p.title then
    local ok, title = pcall(p.title)
    if ok and type(title) == 'string' then
      lines[1] = title
    end
  end
  local list = M.list()
  if #list > 1 then
    local names = {}
    for i, q in ipairs(list) do
      local label = string.format('%d %s', i, q.label or 'proposal')
      names[#names + 1] = q == p and ('[' .. label .. ']') or label
    end
    table.insert(lines, 3, 'waiting: ' .. table.concat(names, '  ') .. '   ]/[: next/previous')
  end
  util.set_buf_option(p.buf, 'modifiable', true)
  vim.api.nvim_buf_set_lines(p.buf, 0, -1, false, lines)
  util.set_buf_option(p.buf, 'modifiable', false)
  util.set_buf_option(p.buf, 'modified', false)
end

local function render_all()
  for _, q in ipairs(M.list()) do
    render(q)
  end
end
M._render_all = render_all

-- Shows the proposal `step` places after `p` in the list (wrapping) in p's window.
function M.switch(p, step)
  local list = M.list()
  if #list < 2 then
    util.notify('frugal: no other proposal is waiting', vim.log.levels.INFO)
    return
  end
  local at = 1
  for i, q in ipairs(list) do
    if q == p then
      at = i
    end
  end
  local target = list[(at - 1 + step) % #list + 1]
  local win = vim.fn.win_findbuf(p.buf)[1] or M.window()
  if win then
    render(target)
    vim.api.nvim_win_set_buf(win, target.buf)
    target.win = win
  end
end

-- Closes the proposal's windows and wipes its buffer; nothing else happens. A window that
-- showed it shows the newest proposal still waiting instead, if any.
function M.close(p)
  if p.closed then
    return
  end
  p.closed = true
  close_tab(p)
  if p.right and vim.api.nvim_buf_is_valid(p.right) then
    pcall(vim.api.nvim_buf_delete, p.right, { force = true })
  end
  unmap_source(p)
  open[p.buf] = nil
  if vim.api.nvim_buf_is_valid(p.buf) then
    local list = M.list()
    local next_p = list[#list]
    for _, win in ipairs(vim.fn.win_findbuf(p.buf)) do
      if next_p and vim.api.nvim_buf_is_valid(next_p.buf) then
        vim.api.nvim_win_set_buf(win, next_p.buf)
        next_p.win = win
      else
        pcall(vim.api.nvim_win_close, win, true)
      end
    end
    if vim.api.nvim_buf_is_valid(p.buf) then
      -- The last window cannot be closed: the buffer goes and another takes its place.
      pcall(vim.api.nvim_buf_delete, p.buf, { force = true })
    end
  end
  render_all()
end

function M.accept(p)
  if p.closed then
    return
  end
  -- The proposed side of the side-by-side view may have been edited: that is what is accepted.
  local edited
  if not p.whole and p.tab and vim.api.nvim_tabpage_is_valid(p.tab) and p.right
    and vim.api.nvim_buf_is_valid(p.right) then
    edited = vim.api.nvim_buf_get_lines(p.right, 0, -1, false)
    if #edited == 1 and edited[1] == '' and #(p.sides.after or {}) == 0 then
      edited = {}
    end
  end
  if not edited and p.dropped then
    edited = p.sides.after
  end
  close_tab(p)
  if p.on_accept and p.on_accept(edited) then
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
  -- A multi-file proposal shows the file under the cursor; it is accepted whole, so its
  -- proposed side is not for editing.
  local sides = p.sides_for and p.sides_for(p) or p.sides
  if not sides then
    util.notify('frugal: nothing to compare side by side', vim.log.levels.INFO)
    return
  end
  local ft = sides.filetype or ''
  local left = stream.scratch_buf('original', ft, sides.before)
  if p.whole and p.right and vim.api.nvim_buf_is_valid(p.right) then
    pcall(vim.api.nvim_buf_delete, p.right, { force = true })
    p.right = nil
  end
  -- The proposed side is the user's to edit before accepting: `do` on a hunk takes the
  -- original back (rejects that hunk), any change is kept; `a` (left) or <CR> accepts that.
  local right = p.right and vim.api.nvim_buf_is_valid(p.right) and p.right
    or stream.scratch_buf('proposed', ft, p.edited or sides.after)
  util.set_buf_option(right, 'modifiable', not p.whole)
  util.set_buf_option(right, 'bufhidden', 'hide')
  p.right = right
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
  M._keys(p, left)
  vim.keymap.set('n', '<CR>', function()
    M.accept(p)
  end, { buffer = right, nowait = true, silent = true, desc = 'frugal: accept as edited' })
  vim.api.nvim_set_current_win(lwin)
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

-- The proposed lines with the hunks of `before` -> `after` that `keep(hunk)` refuses taken
-- back: each hunk is {a_start, a_count, b_start, b_count} as vim.diff's 'indices' gives it.
function M._revert_hunks(before, after, keep)
  local hunks = util.text_diff(util.lines_text(before), util.lines_text(after),
    { result_type = 'indices' }) or {}
  local out, ai = {}, 1
  for _, h in ipairs(hunks) do
    local sa, ca, sb, cb = h[1], h[2], h[3], h[4]
    -- An insertion (ca == 0) comes after line sa; a change starts at line sa.
    local first = ca == 0 and sa + 1 or sa
    while ai < first do
      out[#out + 1] = before[ai]
      ai = ai + 1
    end
    if keep(h) then
      for i = sb, sb + cb - 1 do
        out[#out + 1] = after[i]
      end
    else
      for i = sa, sa + ca - 1 do
        out[#out + 1] = before[i]
      end
    end
    ai = ai + ca
  end
  while ai <= #before do
    out[#out + 1] = before[ai]
    ai = ai + 1
  end
  return out
end

-- `x` on a hunk of the diff: that hunk is taken out of the proposal (the original lines stay);
-- accepting applies the others.
function M.drop_hunk(p)
  local diff = p.diff
  if p.whole then
    util.notify('frugal: a multi-file proposal is accepted or rejected whole', vim.log.levels.INFO)
    return
  end
  if not (diff and p.sides) then
    util.notify('frugal: this proposal has no hunks to drop', vim.log.levels.INFO)
    return
  end
  local win = vim.fn.win_findbuf(p.buf)[1]
  local row = win and vim.api.nvim_win_get_cursor(win)[1] or 1
  local lines = vim.api.nvim_buf_get_lines(p.buf, 0, row, false)
  local a, ac
  for i = #lines, 1, -1 do
    local sa, sc = lines[i]:match('^@@ %-(%d+),?(%d*) %+')
    if sa then
      a, ac = tonumber(sa), sc == '' and 1 or tonumber(sc)
      break
    end
  end
  if not a then
    util.notify('frugal: put the cursor on a hunk (a line under @@) to drop it',
      vim.log.levels.INFO)
    return
  end
  -- The block's lines, counted from the region's first line.
  local lo, hi = a - diff.offset, a - diff.offset + math.max(ac, 1) - 1
  if ac == 0 then
    lo, hi = lo + 1, lo + 1
  end
  p.sides.after = M._revert_hunks(p.sides.before, p.sides.after, function(h)
    local first = h[2] == 0 and h[1] + 1 or h[1]
    local last = first + math.max(h[2], 1) - 1
    return last < lo or first > hi
  end)
  p.dropped = true
  local out = vim.deepcopy(diff.head)
  local rest = M.unified(p.sides.before, p.sides.after, diff.offset)
  if #rest == 0 then
    out[#out + 1] = '(every hunk was dropped: accepting changes nothing)'
  end
  vim.list_extend(out, rest)
  p.lines = out
  render(p)
  if p.right and vim.api.nvim_buf_is_valid(p.right) then
    vim.api.nvim_buf_set_lines(p.right, 0, -1, false, p.sides.after)
  end
  util.notify('frugal: hunk dropped; a accepts the rest', vim.log.levels.INFO)
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
  map('x', function() M.drop_hunk(p) end)
  map(']', function() M.switch(p, 1) end)
  map('[', function() M.switch(p, -1) end)
end

-- Shows a proposal. `spec`: {name, lines (the diff with its header), on_accept, on_reject,
-- sides = {before, after, filetype} or nil, opts (editor.stream), win (a window to show it in,
-- replacing what it shows), whole (accepted whole: no hunk dropped, no side edited),
-- sides_for(p) (the sides to show now, instead of `sides`)}. Returns the proposal object.
function M.show(spec)
  seq = seq + 1
  local p = {
    on_accept = spec.on_accept,
    on_reject = spec.on_reject,
    sides = spec.sides,
    source = spec.source,
    seq = seq,
    lines = spec.lines,
    diff = spec.diff,
    title = spec.title,
    label = spec.label,
    whole = spec.whole,
    sides_for = spec.sides_for,
  }
  p.buf = stream.scratch_buf(spec.name or 'proposal', 'diff', spec.lines)
  -- Hidden, not wiped, when another proposal takes the window: it still waits.
  util.set_buf_option(p.buf, 'bufhidden', 'hide')
  local win = spec.win
  local shared = M.window()
  if shared and shared ~= win then
    -- One window for all proposals: the new one goes there, not in a third window.
    if win and vim.api.nvim_win_is_valid(win) and #vim.api.nvim_list_wins() > 2 then
      pcall(vim.api.nvim_win_close, win, true)
    end
    win = shared
  end
  p.win = stream.show(p.buf, spec.opts, win, false)
  open[p.buf] = p
  render_all()
  M._keys(p, p.buf)
  map_source(p)
  -- Its title is written again whenever it is looked at: where its region is now.
  vim.api.nvim_create_autocmd({ 'BufEnter', 'BufWinEnter' }, {
    buffer = p.buf,
    callback = function()
      render(p)
    end,
  })
  -- Wiped some other way (:bwipe): that is a rejection.
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = p.buf,
    once = true,
    callback = function()
      open[p.buf] = nil
      unmap_source(p)
      vim.schedule(render_all)
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
