-- Every message frugal shows goes through here, so that none can stop the editor with a
-- "Press ENTER" prompt: Neovim asks for Enter when what was echoed since the last redraw takes
-- more lines than the command line has, which happens with one message wider than the room
-- beside the ruler, or with two messages in the same tick.
--
-- So a message is cut to one line of the room Neovim has for it (`v:echospace`, or
-- `columns - 12` where that does not exist), and the messages of one tick are shown as one:
-- the most severe, the latest among equals. The whole text of every message is kept in
-- M.history (`:Frugal messages` shows it). A vim.notify that a plugin replaced (nvim-notify,
-- noice, snacks) gets the whole text: those show it in a window of their own, never a prompt.
local M = {}

local levels = vim.log.levels
local MAX_HISTORY = 200

M.history = {} -- {text, level}, oldest first
local queued = {} -- this tick's messages, shown by flush()
local scheduled = false

local HL = {
  [levels.ERROR] = 'ErrorMsg',
  [levels.WARN] = 'WarningMsg',
}

-- Whether vim.notify is Neovim's own, which echoes (and so can prompt).
local function builtin_notify()
  local info = debug.getinfo(vim.notify, 'S')
  local src = info and info.source or ''
  -- Neovim's own is in its runtime: vim/_editor.lua up to 0.11, vim/_core/editor.lua in 0.12,
  -- which ships it as bytecode without debug information (source "?"). A plugin's is loaded
  -- from a file of its own.
  return src == '?' or src == '' or src:find('^@?vim/') ~= nil or src:find('/lua/vim/', 1, true) ~= nil
    or src:find('vim.lua', 1, true) ~= nil
end
M._builtin_notify = builtin_notify

-- The display cells one message may take.
function M.width()
  local ok, space = pcall(function()
    return vim.v.echospace
  end)
  space = ok and tonumber(space) or nil
  if not space or space <= 0 then
    space = vim.o.columns - 12
  end
  return math.max(10, space)
end

-- `text` on one line of at most `width` cells (default M.width()); a cut ends in "…".
function M.fit(text, width)
  width = width or M.width()
  text = tostring(text):gsub('%s*\n%s*', ' ')
  if vim.fn.strdisplaywidth(text) <= width then
    return text
  end
  local n = vim.fn.strchars(text)
  -- Cut in proportion first, then character by character (wide characters take two cells).
  n = math.min(n, width)
  local cut = vim.fn.strcharpart(text, 0, n)
  while n > 0 and vim.fn.strdisplaywidth(cut) > width - 1 do
    n = n - 1
    cut = vim.fn.strcharpart(text, 0, n)
  end
  return cut .. '…'
end

local function flush()
  scheduled = false
  local pick
  for _, m in ipairs(queued) do
    if not pick or m.level >= pick.level then
      pick = m
    end
  end
  queued = {}
  if not pick then
    return
  end
  local mode = vim.api.nvim_get_mode()
  if mode.blocking then
    -- A prompt of Neovim's own (or a pending operator) is up: echoing now would add to it.
    queued = { pick }
    scheduled = true
    vim.defer_fn(flush, 200)
    return
  end
  local hl = HL[pick.level]
  vim.api.nvim_echo({ { M.fit(pick.short), hl } }, true, {})
end

-- Shows `text` (`level`: vim.log.levels, default INFO) on the message line, cut to fit, later in
-- this tick. `short` is what to show when vim.notify is Neovim's own (default: `text`); the
-- whole `text` goes to M.history either way.
function M.show(text, level, short)
  text = tostring(text)
  level = level or levels.INFO
  if #M.history >= MAX_HISTORY then
    table.remove(M.history, 1)
  end
  M.history[#M.history + 1] = { text = text, level = level }
  if not builtin_notify() then
    vim.schedule(function()
      vim.notify(text, level, { title = 'frugal' })
    end)
    return
  end
  queued[#queued + 1] = { short = short or text, level = level }
  if not scheduled then
    scheduled = true
    vim.schedule(flush)
  end
end

-- The lines of :Frugal messages: every message of this session, whole, oldest first.
function M.history_lines()
  local names = { [levels.ERROR] = 'error', [levels.WARN] = 'warning' }
  local out = {}
  for _, m in ipairs(M.history) do
    local prefix = names[m.level] and (names[m.level] .. ': ') or ''
    for i, l in ipairs(vim.split(m.text, '\n', { plain = true })) do
      out[#out + 1] = (i == 1 and prefix or '  ') .. l
    end
  end
  if #out == 0 then
    out[1] = 'frugal: no messages yet'
  end
  return out
end

return M
