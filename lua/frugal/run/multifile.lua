-- One proposal for a change across files (a result with `files`, |frugal-run-multifile|): every
-- file with its diff in one window, accepted all or nothing.
--
-- Each edit is in lines of the file as it was sent (lua/frugal/scope.lua keeps that: the lines
-- of a loaded buffer, or the size and mtime of a file on disk). When the answer comes, the
-- region of each edit must still hold what was sent; in a loaded buffer two extmarks then hold
-- it, as a single-file proposal's region is held. Accepting checks every file first (regions
-- unchanged, files on disk unchanged, new files still absent) and only then changes buffers:
-- each buffer's edits are one undo step; files not loaded are loaded, new files become buffers;
-- nothing is written. One file that cannot be applied refuses the whole proposal, naming it.
local msg = require('frugal.msg')
local region = require('frugal.run.region')
local scope = require('frugal.scope')
local util = require('frugal.util')

local M = {}

local val = util.val
local levels = vim.log.levels

M.ns = vim.api.nvim_create_namespace('frugal-multifile')

local function rel(path)
  return vim.fn.fnamemodify(path, ':~:.')
end

-- The result's `files`, checked: a list of {path, new, edits = {{s, e, lines}}} (s..e 1-based
-- inclusive in the file as sent, e = s - 1 for an insertion), sorted and not overlapping; nil
-- when the result has none; false and why when they are malformed. The one place that reads
-- `files` (|frugal-rpc|).
function M.read(result)
  local files = val(result.files)
  if type(files) ~= 'table' or #files == 0 then
    return nil
  end
  local out = {}
  for i, f in ipairs(files) do
    f = val(f)
    local path = type(f) == 'table' and val(f.path)
    local edits = type(f) == 'table' and val(f.edits)
    if type(path) ~= 'string' or path == '' or type(edits) ~= 'table' then
      return false, string.format('files[%d] has no path or no edits', i)
    end
    local file = { path = path, new = val(f.new) == true, edits = {} }
    for j, e in ipairs(edits) do
      e = val(e)
      local s = type(e) == 'table' and tonumber(val(e.start_line))
      local l = type(e) == 'table' and tonumber(val(e.end_line))
      local r = type(e) == 'table' and val(e.replacement)
      if not (s and l and s >= 1 and l >= s - 1 and type(r) == 'string') then
        return false, string.format('%s: edit %d has no valid region', path, j)
      end
      local lines = util.text_lines(r)
      if r == '' then
        lines = {}
      end
      file.edits[#file.edits + 1] = { s = math.floor(s), e = math.floor(l), lines = lines }
    end
    table.sort(file.edits, function(a, b)
      return a.s < b.s
    end)
    for j = 2, #file.edits do
      if file.edits[j].s <= file.edits[j - 1].e then
        return false, string.format('%s: edits %d and %d overlap', path, j - 1, j)
      end
    end
    out[#out + 1] = file
  end
  return out
end

-- The project root to resolve a relative path against: the host's when it says, else the
-- nearest folder above the current file holding .git, else the current directory.
local function root_of(run, result)
  local root = val(result.root)
  if type(root) == 'string' and root ~= '' then
    return root
  end
  local name = run.path or ''
  local dir = name ~= '' and vim.fn.fnamemodify(name, ':p:h') or vim.fn.getcwd()
  local d = vim.fn.finddir('.git', dir .. ';')
  local f = vim.fn.findfile('.git', dir .. ';')
  local best
  for _, g in ipairs({ d, f }) do
    if g ~= '' then
      local parent = vim.fn.fnamemodify(vim.fn.fnamemodify(g, ':p'):gsub('/$', ''), ':h')
      if not best or #parent > #best then
        best = parent
      end
    end
  end
  return best or vim.fn.getcwd()
end

-- The full path of `path` as the host names it (a file's or a finding's): itself when
-- absolute; else the file in scope it ends, else under the project root.
function M.resolve(path, run, result)
  if path:sub(1, 1) == '/' then
    return vim.fn.fnamemodify(path, ':p')
  end
  local want = path:gsub('^%./', '')
  for _, k in ipairs(run.kept and run.kept.list or {}) do
    if k.path and (k.path == want or k.path:sub(-#want - 1) == '/' .. want) then
      return k.path
    end
  end
  return vim.fn.fnamemodify(root_of(run, result) .. '/' .. want, ':p')
end

local function loaded_buf(path)
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and vim.api.nvim_buf_get_name(b) == path then
      return b
    end
  end
  return nil
end

local function has_text(b)
  local lines = vim.api.nvim_buf_get_lines(b, 0, -1, false)
  return #lines > 1 or (lines[1] or '') ~= ''
end

-- `base` with `edits` applied.
local function apply_to(base, edits)
  local out, at = {}, 1
  for _, e in ipairs(edits) do
    while at < e.s do
      out[#out + 1] = base[at]
      at = at + 1
    end
    vim.list_extend(out, e.lines)
    at = e.e + 1
  end
  while at <= #base do
    out[#out + 1] = base[at]
    at = at + 1
  end
  return out
end

local function same_lines(b, s, e, want, from)
  local now = vim.api.nvim_buf_get_lines(b, s, e, false)
  if #now ~= e - s then
    return false
  end
  for i = 1, e - s do
    if now[i] ~= want[from + i] then
      return false
    end
  end
  return true
end

-- Whether buffer `b` holds at its edit regions what `f.base` holds there (the positions as
-- sent); an insertion needs the whole buffer to be as sent.
local function regions_as_sent(b, f)
  local count = vim.api.nvim_buf_line_count(b)
  for _, e in ipairs(f.edits) do
    if e.e < e.s then
      if count ~= #f.base or not same_lines(b, 0, count, f.base, 0) then
        return false
      end
    elseif e.e > count or not same_lines(b, e.s - 1, e.e, f.base, e.s - 1) then
      return false
    end
  end
  return true
end

-- Holds each edit region of `f` in buffer `b` with extmarks.
local function hold(f, b)
  f.bufnr = b
  f.marks = {}
  for _, e in ipairs(f.edits) do
    local m = { bufnr = b, ns = M.ns, before = {} }
    for i = e.s, e.e do
      m.before[#m.before + 1] = f.base[i]
    end
    region.place_marks(m, e.s - 1, e.e)
    f.marks[#f.marks + 1] = m
  end
end

local function release(f)
  for _, m in ipairs(f.marks or {}) do
    region.delete_marks(m)
  end
  f.marks = nil
end

-- Finds what each file of the answer was at the request and whether its edits still fit it:
-- f.base (its lines as sent), f.after, and f.problem when it cannot be applied.
local function prepare(run, result, files)
  for _, f in ipairs(files) do
    f.path = M.resolve(f.path, run, result)
    local k = run.kept and run.kept[f.path]
    local b = loaded_buf(f.path)
    if f.new then
      f.base = {}
      if vim.fn.filereadable(f.path) == 1 or vim.fn.isdirectory(f.path) == 1
        or (b and has_text(b)) then
        f.problem = 'exists now'
      end
    elseif not k then
      f.problem = 'was not among the files sent'
    elseif k.lines then
      f.base = k.lines
      if not (b and b == k.bufnr) then
        f.problem = 'was closed since the request'
      elseif vim.api.nvim_buf_get_changedtick(b) ~= k.tick and not regions_as_sent(b, f) then
        f.problem = 'changed since the request'
      end
    else
      local st = scope._stat(f.path)
      local ok, lines = pcall(vim.fn.readfile, f.path)
      if not (st and k.stat and st.size == k.stat.size and st.mtime == k.stat.mtime) or not ok then
        f.problem = 'changed on disk since the request'
      else
        f.base = lines
        if b and not regions_as_sent(b, f) then
          f.problem = 'changed since the request'
        end
      end
    end
    f.base = f.base or {}
    for _, e in ipairs(f.edits) do
      if not f.problem and e.e > #f.base then
        f.problem = 'has fewer lines than the edits name'
      end
    end
    if not f.problem then
      f.after = apply_to(f.base, f.edits)
      if b and not f.new then
        hold(f, b)
      end
    else
      f.after = f.base
    end
  end
end

-- Checks one file just before accepting: returns the buffer and the current [s, e) of each
-- edit, or nil and why. A file not loaded is loaded now (no change to it yet).
local function check(f)
  if f.problem then
    return nil, f.problem
  end
  if f.new then
    local b = loaded_buf(f.path)
    if vim.fn.filereadable(f.path) == 1 or vim.fn.isdirectory(f.path) == 1
      or (b and has_text(b)) then
      return nil, 'exists now'
    end
    return { new = true }
  end
  local spots = {}
  if f.marks then
    for _, m in ipairs(f.marks) do
      local s, e = region.anchored(m)
      if not s then
        return nil, 'changed since the request'
      end
      spots[#spots + 1] = { s, e }
    end
    return { buf = f.bufnr, spots = spots }
  end
  local k = f.kept_stat
  local st = scope._stat(f.path)
  if not (st and k and st.size == k.size and st.mtime == k.mtime) then
    return nil, 'changed on disk since the request'
  end
  local b = vim.fn.bufadd(f.path)
  local ok, err = pcall(vim.fn.bufload, b)
  if not ok then
    return nil, 'could not be loaded: ' .. tostring(err)
  end
  if not regions_as_sent(b, f) then
    return nil, 'changed since the request'
  end
  for _, e in ipairs(f.edits) do
    spots[#spots + 1] = { e.s - 1, e.e }
  end
  return { buf = b, spots = spots }
end

-- Applies every file of the proposal or none. Returns true when applied; false (the user is
-- told which file could not be) otherwise.
function M.accept(p)
  local plan = {}
  for _, f in ipairs(p.files) do
    local c, why = check(f)
    if c and c.buf and not util.buf_option(c.buf, 'modifiable') then
      c, why = nil, "is not 'modifiable'"
    end
    if not c then
      -- The short form leads with the file's name: a long path must not push it off the line.
      msg.show(string.format('frugal: nothing applied: %s %s; run the action again',
        rel(f.path), why), levels.ERROR, string.format('frugal: nothing applied: %s %s (%s)',
        vim.fn.fnamemodify(f.path, ':t'), why, rel(f.path)))
      return false
    end
    plan[#plan + 1] = { f = f, c = c }
  end
  local done = {}
  local function undo_done()
    for _, d in ipairs(done) do
      if d.new then
        pcall(vim.api.nvim_buf_delete, d.buf, { force = true })
      else
        pcall(vim.api.nvim_buf_call, d.buf, function()
          vim.cmd('silent! undo')
        end)
      end
    end
  end
  for _, step in ipairs(plan) do
    local f, c = step.f, step.c
    local ok, err
    if c.new then
      local b = vim.fn.bufadd(f.path)
      ok, err = pcall(function()
        vim.fn.bufload(b)
        vim.api.nvim_buf_set_lines(b, 0, -1, false, f.after)
      end)
      if ok then
        done[#done + 1] = { buf = b, new = true }
        util.set_buf_option(b, 'buflisted', true)
        vim.api.nvim_create_autocmd('BufWritePre', {
          buffer = b,
          callback = function()
            local dir = vim.fn.fnamemodify(f.path, ':h')
            if vim.fn.isdirectory(dir) == 0 then
              vim.fn.mkdir(dir, 'p')
            end
          end,
        })
      end
    else
      -- Bottom up, so that the spots above stay where they are; one undo step for the buffer.
      ok, err = pcall(function()
        for i = #f.edits, 1, -1 do
          vim.api.nvim_buf_call(c.buf, function()
            if i == #f.edits then
              -- Its own undo step: a change made through the API before is not joined to it.
              vim.cmd('let &undolevels = &undolevels')
            else
              pcall(vim.cmd, 'undojoin')
            end
          end)
          vim.api.nvim_buf_set_lines(c.buf, c.spots[i][1], c.spots[i][2], false,
            f.edits[i].lines)
        end
      end)
      if ok then
        done[#done + 1] = { buf = c.buf }
        util.set_buf_option(c.buf, 'buflisted', true)
      end
    end
    if not ok then
      undo_done()
      msg.show(string.format('frugal: nothing applied: %s could not be changed: %s',
        rel(f.path), tostring(err)), levels.ERROR)
      return false
    end
  end
  for _, f in ipairs(p.files) do
    release(f)
  end
  local new = 0
  for _, f in ipairs(p.files) do
    new = new + (f.new and 1 or 0)
  end
  msg.show(string.format('frugal: %s applied to %d file%s%s (not saved; u undoes each)',
    p.action, #p.files, #p.files == 1 and '' or 's',
    new > 0 and string.format(', %d new', new) or ''), levels.INFO)
  return true
end

-- The proposal's lines: a header, a note per file that cannot be applied, each file's diff.
local function render(run, result, files)
  local lines = {
    string.format('frugal %s: %d file%s (%s)', run.action, #files, #files == 1 and '' or 's',
      val(result.model) or run.model or '?'),
    'a or <CR>: accept all   r or q: reject   d: the file under the cursor side by side',
  }
  for _, f in ipairs(files) do
    if f.problem then
      lines[#lines + 1] = string.format('NOTE: %s %s; this cannot be applied', rel(f.path),
        f.problem)
    end
  end
  for _, f in ipairs(files) do
    lines[#lines + 1] = ''
    lines[#lines + 1] = f.new and '--- /dev/null' or ('--- ' .. rel(f.path))
    lines[#lines + 1] = '+++ ' .. rel(f.path) .. (f.new and ' (new)' or ' (proposed)')
    local diff = require('frugal.proposal').unified(f.base, f.after, 0)
    if #diff == 0 then
      lines[#lines + 1] = '(no change to this file)'
    end
    vim.list_extend(lines, diff)
  end
  return lines
end

-- The file whose diff holds the cursor of the proposal's window (the first one above it).
local function file_at(p)
  local win = vim.fn.win_findbuf(p.buf)[1]
  local row = win and vim.api.nvim_win_get_cursor(win)[1] or 1
  local lines = vim.api.nvim_buf_get_lines(p.buf, 0, row, false)
  for i = #lines, 1, -1 do
    local name = lines[i]:match('^%+%+%+ (.-) %(%a+%)$')
    local f = name and p.by_label[name]
    if f then
      return f
    end
  end
  return p.files[1]
end

-- Shows the proposal of `run` for `result`, whose `files` were read by M.read. Returns the
-- proposal (lua/frugal/proposal.lua) and whether every file can be applied.
function M.propose(run, result, files, hooks)
  prepare(run, result, files)
  for _, f in ipairs(files) do
    local k = run.kept and run.kept[f.path]
    f.kept_stat = k and k.stat
  end
  local lines = render(run, result, files)
  local p = { files = files, action = run.action, by_label = {} }
  for _, f in ipairs(files) do
    p.by_label[rel(f.path)] = f
  end
  local spec = {
    name = run.action .. '-proposal',
    lines = lines,
    label = string.format('%s %d files', run.action, #files),
    opts = run.stream.opts,
    win = run.stream:window(),
    source = run.bufnr,
    whole = true,
    on_accept = function()
      if M.accept(p) then
        hooks.accepted()
        return true
      end
      return false
    end,
    on_reject = function()
      for _, f in ipairs(files) do
        release(f)
      end
      hooks.rejected()
    end,
  }
  spec.sides_for = function(shown)
    p.buf = shown.buf
    local f = file_at(p)
    local ft = ''
    if f.bufnr and vim.api.nvim_buf_is_valid(f.bufnr) then
      ft = util.buf_option(f.bufnr, 'filetype')
    end
    return { before = f.base, after = f.after, filetype = ft }
  end
  local shown = require('frugal.proposal').show(spec)
  p.buf = shown.buf
  local bad
  for _, f in ipairs(files) do
    if f.problem and not bad then
      bad = f
    end
  end
  return shown, bad and string.format('%s %s', vim.fn.fnamemodify(bad.path, ':t'), bad.problem)
    or nil
end

return M
