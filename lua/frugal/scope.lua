-- The files a request is about beyond the current buffer: only the ones the user chose, never
-- every buffer on its own. `file=PATH` names one (it must exist, or be a buffer of that name);
-- the keywords name sets the user already keeps: `buffers` (listed buffers), `args` (the
-- argument list), `quickfix` (the files of the quickfix list) and `changed` (files with
-- uncommitted changes in git, asked of `git` without waiting for it).
--
-- This module is the one place that builds the `files` param (|frugal-rpc|): a loaded buffer is
-- sent as the editor holds it ({path, text, from?}), a named file that is not loaded as its
-- path (the host reads it), a set member that is not loaded as {path, from = KEYWORD}
-- (`from` names the set a file came from; a named file has none). It also
-- keeps what each file was at the request (its lines, or its size and mtime on disk), which a
-- multi-file proposal is checked against (lua/frugal/run/multifile.lua).
local util = require('frugal.util')

local M = {}

M.KEYWORDS = { 'buffers', 'args', 'quickfix', 'changed' }

-- The actions that work across files (their answers may edit several).
M.ACROSS = { design = true, optimize = true, ['refactor-files'] = true, ['review-all'] = true,
  plan = true }
local is_keyword = {}
for _, k in ipairs(M.KEYWORDS) do
  is_keyword[k] = true
end

-- Whether `word` is a scope keyword.
function M.is_keyword(word)
  return is_keyword[word] == true
end

local function abs(path)
  return vim.fn.fnamemodify(path, ':p')
end

-- Loaded-or-not buffers by their full name.
local function buffers_by_name()
  local out = {}
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_get_name(b)
    if name ~= '' and util.buf_option(b, 'buftype') == '' then
      out[name] = b
    end
  end
  return out
end

local function stat(path)
  local st = util.uv.fs_stat(path)
  if not st then
    return nil
  end
  return { type = st.type, size = st.size, mtime = st.mtime and (st.mtime.sec * 1e9
    + (st.mtime.nsec or 0)) or 0 }
end
M._stat = stat

-- What the editor holds of buffer `b`: its lines and their text with a final newline.
local function held(b)
  local lines = vim.api.nvim_buf_get_lines(b, 0, -1, false)
  local text = table.concat(lines, '\n')
  if #lines > 1 or lines[1] ~= '' then
    text = text .. '\n'
  end
  return lines, text
end

-- The file `path` as the request sends it: the entry of `files` and what is kept of it.
-- Returns nil and an error for a named file that cannot be sent; nil, nil for a set member
-- that cannot (it is left out).
local function entry(path, from, bufs)
  local named = from == nil
  local b = bufs[path]
  if b and vim.api.nvim_buf_is_loaded(b) then
    local lines, text = held(b)
    return { path = path, text = text, from = from },
      { path = path, bufnr = b, lines = lines, tick = vim.api.nvim_buf_get_changedtick(b),
        named = named }
  end
  local st = stat(path)
  if not st or st.type ~= 'file' or vim.fn.filereadable(path) ~= 1 then
    if not named then
      return nil, nil
    end
    local why = not st and 'no such file' or st.type ~= 'file' and 'not a regular file'
      or 'cannot be read'
    return nil, string.format('frugal: file=%s: %s; nothing sent', vim.fn.fnamemodify(path,
      ':~:.'), why)
  end
  local kept = { path = path, stat = st, named = named }
  if named then
    return path, kept
  end
  return { path = path, from = from }, kept
end

-- The listed buffers backed by a file (loaded or not: `nvim a.c b.c` lists b.c unloaded).
local function listed_buffers()
  local out = {}
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.fn.buflisted(b) == 1 and util.buf_option(b, 'buftype') == '' then
      local name = vim.api.nvim_buf_get_name(b)
      if name ~= '' then
        out[#out + 1] = name
      end
    end
  end
  return out
end

local function arg_files()
  local out = {}
  for _, a in ipairs(vim.fn.argv()) do
    out[#out + 1] = abs(a)
  end
  return out
end

local function quickfix_files()
  local out, seen = {}, {}
  for _, item in ipairs(vim.fn.getqflist()) do
    local b = tonumber(item.bufnr) or 0
    if b > 0 and not seen[b] and vim.api.nvim_buf_is_valid(b) then
      seen[b] = true
      local name = vim.api.nvim_buf_get_name(b)
      if name ~= '' then
        out[#out + 1] = name
      end
    end
  end
  return out
end

-- Runs `argv` without waiting; `cb(code, stdout_lines)` later on the main loop. False when it
-- cannot be started.
local function job(argv, cb)
  local out = {}
  local ok, id = pcall(vim.fn.jobstart, argv, {
    stdout_buffered = true,
    on_stdout = function(_, data)
      out = data or {}
    end,
    on_exit = function(_, code)
      vim.schedule(function()
        cb(code, out)
      end)
    end,
  })
  return ok and type(id) == 'number' and id > 0
end

-- The files with uncommitted changes (staged, unstaged, untracked; not deleted ones) of the git
-- repository holding `dir`: `cb(nil, paths)` or `cb(error)`, later, never waiting.
function M.git_changed(dir, cb)
  if vim.fn.executable('git') ~= 1 then
    cb('frugal: changed: git is not installed (not on PATH); nothing sent')
    return
  end
  local started = job({ 'git', '-C', dir, 'rev-parse', '--show-toplevel' }, function(code, out)
    local top = out[1]
    if code ~= 0 or not top or top == '' then
      cb(string.format('frugal: changed: %s is not in a git repository; nothing sent',
        vim.fn.fnamemodify(dir, ':~')))
      return
    end
    local ok = job({ 'git', '-C', top, 'status', '--porcelain=v1', '-z',
      '--untracked-files=all' }, function(scode, sout)
      if scode ~= 0 then
        cb('frugal: changed: git status failed in ' .. vim.fn.fnamemodify(top, ':~'))
        return
      end
      -- NUL-separated records arrive as "\n" inside the lines jobstart gives.
      local records = vim.split(table.concat(sout, '\n'), '\n', { plain = true })
      local paths, i = {}, 1
      while i <= #records do
        local r = records[i]
        local xy, path = r:sub(1, 2), r:sub(4)
        if xy:find('[RC]') then
          i = i + 1 -- the next record is the old name of a rename or copy
        end
        if #r > 3 and not xy:find('D') then
          paths[#paths + 1] = top .. '/' .. path
        end
        i = i + 1
      end
      cb(nil, paths)
    end)
    if not ok then
      cb('frugal: changed: could not run git; nothing sent')
    end
  end)
  if not started then
    cb('frugal: changed: could not run git; nothing sent')
  end
end

-- The files of request `req` (req.files: the paths of file=, req.sets: the keywords given) for
-- buffer `bufnr`. Calls `cb(err)` or `cb(nil, files, kept)`: `files` the `files` param (nil when
-- empty), `kept` what each file was at the request, the current buffer's among them (by path,
-- and as a list in order). Without `changed` `cb` runs before this returns; with it, once git
-- has answered.
function M.resolve(req, bufnr, cb)
  local sets = req.sets or {}
  local function finish(changed)
    local bufs = buffers_by_name()
    local current = vim.api.nvim_buf_get_name(bufnr)
    local files, kept, seen = {}, { list = {} }, {}
    -- Named files first: a file both named and in a set is named.
    local wanted = {}
    for _, f in ipairs(req.files or {}) do
      wanted[#wanted + 1] = { abs(f) }
    end
    local from = {
      buffers = sets.buffers and listed_buffers(),
      args = sets.args and arg_files(),
      quickfix = sets.quickfix and quickfix_files(),
      changed = changed,
    }
    for _, k in ipairs(M.KEYWORDS) do
      for _, f in ipairs(from[k] or {}) do
        wanted[#wanted + 1] = { abs(f), k }
      end
    end
    local function keep(k)
      if k.path then
        kept[k.path] = k
      end
      kept.list[#kept.list + 1] = k
    end
    -- The current buffer as it is sent, for the answers that edit across files; a single-file
    -- action's edit has its own region (lua/frugal/run/region.lua).
    if (M.ACROSS[req.action] or #wanted > 0) and vim.api.nvim_buf_is_loaded(bufnr) then
      local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
      keep({ path = current ~= '' and current or nil, bufnr = bufnr, lines = lines,
        tick = vim.api.nvim_buf_get_changedtick(bufnr), current = true })
    end
    if current ~= '' then
      seen[current] = true
    end
    for _, w in ipairs(wanted) do
      local path, from = w[1], w[2]
      if not seen[path] then
        seen[path] = true
        local e, k = entry(path, from, bufs)
        if not e and k then
          cb(k)
          return
        end
        if e then
          files[#files + 1] = e
          keep(k)
        end
      end
    end
    cb(nil, #files > 0 and files or nil, kept)
  end
  if sets.changed then
    local name = vim.api.nvim_buf_get_name(bufnr)
    local dir = name ~= '' and vim.fn.fnamemodify(name, ':p:h') or vim.fn.getcwd()
    if vim.fn.isdirectory(dir) ~= 1 then
      dir = vim.fn.getcwd()
    end
    M.git_changed(dir, function(err, paths)
      if err then
        cb(err)
        return
      end
      if not vim.api.nvim_buf_is_valid(bufnr) then
        cb('frugal: the buffer of the request is gone; nothing sent')
        return
      end
      finish(paths)
    end)
    return
  end
  finish(nil)
end

return M
