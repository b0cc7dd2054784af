-- The answer window of :Frugal {action}: a scratch buffer that text is appended to as the host
-- streams it, in a window at the right (or a float) that never takes the focus.
--
-- Appending is cheap and exact: the buffer is only ever extended at its end (one
-- nvim_buf_set_text per batch, at a position tracked here rather than read back), so a long
-- answer costs the same per batch at its end as at its start, and no byte is lost or doubled.
local util = require('frugal.util')

local M = {}

local Stream = {}
Stream.__index = Stream

local counter = 0

local function set_scratch_options(buf, filetype)
  util.set_buf_option(buf, 'buftype', 'nofile')
  util.set_buf_option(buf, 'bufhidden', 'wipe')
  util.set_buf_option(buf, 'swapfile', false)
  util.set_buf_option(buf, 'modifiable', false)
  util.set_buf_option(buf, 'filetype', filetype)
end

-- A new scratch buffer named `frugal://{name}` with `lines`, not modifiable, wiped when hidden.
function M.scratch_buf(name, filetype, lines)
  local buf = vim.api.nvim_create_buf(false, true)
  counter = counter + 1
  pcall(vim.api.nvim_buf_set_name, buf, string.format('frugal://%d/%s', counter, name))
  if lines and #lines > 0 then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  end
  set_scratch_options(buf, filetype)
  return buf
end

-- An empty scratch buffer for a stream; it keeps no undo history (it only grows). Its filetype
-- is `frugal-stream` while text arrives and becomes `markdown` when the answer is complete
-- (Stream:done): markdown syntax highlighting re-runs on every batch and cost Neovim 0.7 and
-- 0.10 10-25 ms per batch in bench/stall, more than the whole stream otherwise needs.
function M.stream_buf(name)
  local buf = M.scratch_buf(name, 'frugal-stream')
  util.set_buf_option(buf, 'undolevels', -1)
  return buf
end

local function set_window_options(win, wrap)
  util.set_win_option(win, 'wrap', wrap)
  util.set_win_option(win, 'linebreak', true)
  util.set_win_option(win, 'number', false)
  util.set_win_option(win, 'relativenumber', false)
  util.set_win_option(win, 'signcolumn', 'no')
  util.set_win_option(win, 'foldcolumn', '0')
  util.set_win_option(win, 'spell', false)
  util.set_win_option(win, 'list', false)
end

-- Shows `buf` at the side without moving the focus: in `reuse` when that window is still open,
-- else in a new window as `opts` (editor.stream: style, border) says. Returns the window.
function M.show(buf, opts, reuse, wrap)
  opts = opts or {}
  if reuse and vim.api.nvim_win_is_valid(reuse) then
    vim.api.nvim_win_set_buf(reuse, buf)
    set_window_options(reuse, wrap ~= false)
    return reuse
  end
  local columns = vim.o.columns
  local width = math.max(30, math.floor(columns * 0.42))
  local win
  if opts.style == 'float' then
    width = math.min(width, math.max(10, columns - 4))
    local height = math.max(3, vim.o.lines - vim.o.cmdheight - 4)
    win = vim.api.nvim_open_win(buf, false, {
      relative = 'editor',
      width = width,
      height = height,
      row = 1,
      col = math.max(0, columns - width - 2),
      style = 'minimal',
      border = opts.border or 'rounded',
    })
  else
    local cur = vim.api.nvim_get_current_win()
    -- :sbuffer shows the buffer directly, so no other buffer passes through the new window.
    vim.cmd('botright vertical sbuffer ' .. buf)
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_width(win, width)
    util.set_win_option(win, 'winfixwidth', true)
    if vim.api.nvim_win_is_valid(cur) then
      vim.api.nvim_set_current_win(cur)
    end
  end
  set_window_options(win, wrap ~= false)
  return win
end

-- Opens a stream: an empty markdown buffer shown at the side (see M.show). `name` names the
-- buffer. Returns the stream object.
function M.open(name, opts, reuse)
  local self = setmetatable({
    name = name,
    opts = opts,
    chunks = {}, -- everything appended, for M.text() and for showing it again
    held = '', -- the start of a UTF-8 character cut at the end of the last batch
    nlines = 1, -- lines in the buffer
    tail = 0, -- bytes in its last line
  }, Stream)
  self.buf = M.stream_buf(name)
  self.win = M.show(self.buf, opts, reuse, true)
  return self
end

function Stream:buf_valid()
  return self.buf ~= nil and vim.api.nvim_buf_is_valid(self.buf)
end

-- The window showing the stream, or nil when it has been closed.
function Stream:window()
  if self.win and vim.api.nvim_win_is_valid(self.win) and self:buf_valid()
    and vim.api.nvim_win_get_buf(self.win) == self.buf then
    return self.win
  end
  if self:buf_valid() then
    local wins = vim.fn.win_findbuf(self.buf)
    if #wins > 0 then
      self.win = wins[1]
      return self.win
    end
  end
  return nil
end

-- Everything appended so far (held bytes included).
function Stream:text()
  return table.concat(self.chunks) .. self.held
end

-- Inserts `text` at the end of the buffer. Windows whose cursor was on the last line follow it;
-- a cursor the user moved elsewhere stays.
function Stream:_insert(text)
  if text == '' or not self:buf_valid() then
    return
  end
  local buf = self.buf
  local parts = util.split_lines(text)
  local follow = {}
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    if vim.api.nvim_win_get_cursor(win)[1] >= self.nlines then
      follow[#follow + 1] = win
    end
  end
  util.set_buf_option(buf, 'modifiable', true)
  local row = self.nlines - 1
  local ok = pcall(vim.api.nvim_buf_set_text, buf, row, self.tail, row, self.tail, parts)
  if not ok then
    -- Someone else changed the buffer: find its end again and append there.
    self.nlines = vim.api.nvim_buf_line_count(buf)
    local last = vim.api.nvim_buf_get_lines(buf, -2, -1, false)[1] or ''
    self.tail = #last
    row = self.nlines - 1
    ok = pcall(vim.api.nvim_buf_set_text, buf, row, self.tail, row, self.tail, parts)
  end
  util.set_buf_option(buf, 'modifiable', false)
  if not ok then
    return
  end
  if #parts == 1 then
    self.tail = self.tail + #parts[1]
  else
    self.nlines = self.nlines + #parts - 1
    self.tail = #parts[#parts]
  end
  for _, win in ipairs(follow) do
    pcall(vim.api.nvim_win_set_cursor, win, { self.nlines, 0 })
  end
end

-- Appends a batch of answer text. A UTF-8 character cut at the end of the batch is held back
-- until the next batch (or flush()) completes it, so the window never shows half a character.
function Stream:append(text)
  if type(text) ~= 'string' or text == '' then
    return
  end
  text = self.held .. text
  local n = util.utf8_complete_len(text)
  self.held = text:sub(n + 1)
  text = text:sub(1, n)
  if text == '' then
    return
  end
  self.chunks[#self.chunks + 1] = text
  self:_insert(text)
end

-- Appends whatever is held back (the answer has ended, complete or not).
function Stream:flush()
  if self.held ~= '' then
    local text = self.held
    self.held = ''
    self.chunks[#self.chunks + 1] = text
    self:_insert(text)
  end
end

-- The answer is complete: highlight it as markdown from now on.
function Stream:done()
  if self:buf_valid() and util.buf_option(self.buf, 'filetype') == 'frugal-stream' then
    util.set_buf_option(self.buf, 'filetype', 'markdown')
  end
end

-- Makes sure the stream is on screen: when its buffer was closed (wiped), a new one is made with
-- all the text so far. Returns the window.
function Stream:reshow()
  local win = self:window()
  if win then
    return win
  end
  if not self:buf_valid() then
    local text = table.concat(self.chunks)
    self.buf = M.stream_buf(self.name)
    self.nlines, self.tail = 1, 0
    self:_insert(text)
  end
  self.win = M.show(self.buf, self.opts, nil, true)
  return self.win
end

return M
