-- Progress of the runs in flight, shown where it never interrupts: the statusline component
-- (status()) and the header of each answer window ('winbar' from 0.8 on, the window's own
-- 'statusline' on 0.7). Nothing here echoes: a spinner on the message line fights every other
-- message for the one line there is, and a retry warning there could end in a hit-enter prompt.
local util = require('frugal.util')

local M = {}

local SPINNER = { '⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏' }
local TICK_MS = 100
local has_winbar = vim.fn.has('nvim-0.8') == 1

local state = {
  order = {}, -- runs in flight, oldest first (shared with run.lua)
  timer = nil,
  frame = 0,
}
M._state = state

function M.elapsed(run)
  return (util.now_ms() - run.started) / 1000
end

-- "mini gpt-5.4-mini 3.2s", with what the run is waiting for (a retry, cancelling).
function M.describe(run)
  local s
  if run.model then
    s = string.format('%s %s %.1fs', run.tier or '?', run.model, M.elapsed(run))
  else
    s = string.format('%s %.1fs', run.action, M.elapsed(run))
  end
  if run.cancelling then
    s = s .. ' (cancelling)'
  elseif run.note then
    s = s .. ' (' .. run.note .. ')'
  end
  return s
end

-- For a statusline: "frugal: mini gpt-5.4-mini 3.2s" for the latest run in flight ("(+1)" when
-- more run), "" when none. The same in every window: it is about the requests, not the window.
function M.status()
  local n = #state.order
  if n == 0 then
    return ''
  end
  local s = 'frugal: ' .. M.describe(state.order[n])
  if n > 1 then
    s = s .. string.format(' (+%d)', n - 1)
  end
  return s
end

local function escape(s)
  return (s:gsub('%%', '%%%%'))
end

-- Sets the header of the answer window `win` to `text` (nil: back to the default), cut to the
-- window's width at its end, so that what comes first (action, tier, cost) stays.
function M.set_header(win, text)
  if not (win and vim.api.nvim_win_is_valid(win)) then
    return
  end
  if text then
    text = require('frugal.msg').fit(text, math.max(10, vim.api.nvim_win_get_width(win) - 1))
  end
  local value = text and escape(text) or ''
  if has_winbar then
    pcall(util.set_win_option, win, 'winbar', value)
  else
    pcall(util.set_win_option, win, 'statusline', value)
  end
end

-- The header of `run`'s answer window while it streams.
local function running_header(run)
  local frame = SPINNER[state.frame % #SPINNER + 1]
  return string.format('%s %s%s · %s', frame, run.action, run.again and ' again' or '',
    M.describe(run))
end

function M.refresh(run)
  local win = run.stream and run.stream:window()
  if win then
    M.set_header(win, running_header(run))
  end
end

local function tick()
  state.frame = state.frame + 1
  for _, run in ipairs(state.order) do
    M.refresh(run)
  end
  vim.cmd('redrawstatus!')
end

function M.stop()
  if state.timer then
    state.timer:stop()
    state.timer:close()
    state.timer = nil
  end
end

function M.start()
  if state.timer then
    return
  end
  state.timer = util.uv.new_timer()
  state.timer:start(TICK_MS, TICK_MS, vim.schedule_wrap(function()
    if not state.timer then
      return
    end
    if #state.order == 0 then
      M.stop()
      return
    end
    tick()
  end))
end

-- `run` is in flight.
function M.add(run)
  state.order[#state.order + 1] = run
  M.refresh(run)
  M.start()
end

-- `run` is no longer in flight.
function M.remove(run)
  for i, r in ipairs(state.order) do
    if r == run then
      table.remove(state.order, i)
      break
    end
  end
  if #state.order == 0 then
    M.stop()
  end
  vim.cmd('redrawstatus!')
end

return M
