-- What frugal has spent: `:Frugal cost` (the ledger's report in a scratch window), today's spend
-- for status(), and the ledger's record of what became of each proposal (`outcome`).
--
-- The host keeps the ledger (|frugal-rpc| `cost`, `outcome`); this module only asks and shows.
-- Days are UTC days, as the host counts them.
local host = require('frugal.host')
local util = require('frugal.util')

local M = {}

local val = util.val
local levels = vim.log.levels

-- The periods :Frugal cost completes; dates (YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD) work too.
M.PERIODS = { 'today', 'week', 'month', 'all' }
M.DEFAULT_PERIOD = 'month'

local state = {
  today = nil, -- {usd, day}: the spend of UTC day `day`, from the latest result or report
  asked_day = nil, -- the UTC day status() last asked the host about (once a day at most)
  seq = 0, -- newest :Frugal cost request; older answers are dropped
  win = nil, -- the report window
}
M._state = state

local function utc_day()
  return os.date('!%Y-%m-%d')
end

local DATE = '^%d%d%d%d%-%d%d%-%d%d$'

-- True when `period` has the shape the host accepts (the host still checks the dates).
function M.valid_period(period)
  if type(period) ~= 'string' then
    return false
  end
  if vim.tbl_contains(M.PERIODS, period) or period:match(DATE) then
    return true
  end
  local a, b = period:match('^(.-)%.%.(.*)$')
  return a ~= nil and a:match(DATE) ~= nil and b:match(DATE) ~= nil
end

M.PERIOD_HELP = 'today, week, month, all, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD'

local function redraw_status()
  if vim.o.statusline:find('frugal', 1, true) then
    vim.cmd('redrawstatus')
  end
end

-- Remembers today's spend from a run's result (`spent_today_usd`, which includes that run).
function M.note_result(result)
  local usd = type(result) == 'table' and tonumber(val(result.spent_today_usd))
  if usd then
    state.today = { usd = usd, day = utc_day() }
  end
end

-- For status() when no request runs: "frugal: $0.0421 today" once today's spend is known, else
-- "". The first call of a day with nothing known asks the host (`cost` today) in the background,
-- once, and only if the host is already running: a statusline never starts it.
function M.status()
  local day = utc_day()
  local known = state.today
  if known and known.day == day then
    return string.format('frugal: $%.4f today', known.usd)
  end
  if state.asked_day ~= day and host.running() then
    state.asked_day = day
    host.call('cost', { period = 'today' }, function(err, result)
      local report = not err and type(result) == 'table' and val(result.report)
      local usd = type(report) == 'table' and tonumber(val(report.cost_usd))
      if usd and utc_day() == day then
        state.today = { usd = usd, day = day }
        redraw_status()
      end
    end)
  end
  return ''
end

-- Tells the ledger what the user did with the proposal of `result`: "applied" or "rejected".
-- Nothing is sent when the result has no ledger id (the ledger could not be written, or an older
-- host). Returns true when sent.
function M.outcome(result, outcome)
  local ledger = type(result) == 'table' and val(result.ledger)
  local id = type(ledger) == 'table' and val(ledger.id)
  if type(id) ~= 'string' or id == '' then
    return false
  end
  host.call('outcome', { id = id, outcome = outcome }, function(err)
    if err and not host.is_crash_error(err) then
      util.notify('frugal: could not record the outcome in the ledger: ' .. tostring(err),
        levels.WARN)
    end
  end)
  return true
end

local function close()
  if state.win and vim.api.nvim_win_is_valid(state.win) then
    pcall(vim.api.nvim_win_close, state.win, true)
  end
  state.win = nil
end

-- :Frugal cost [period]: asks the host for the report of `period` and shows its text in a
-- scratch window ('filetype' frugal-cost; `q` closes it) styled like the preview (`opts` is
-- editor.preview). Errors are notified.
function M.show(period, opts)
  state.seq = state.seq + 1
  local seq = state.seq
  host.call('cost', { period = period }, function(err, result)
    if seq ~= state.seq then
      return
    end
    if err then
      if not host.is_crash_error(err) then
        err = tostring(err)
        if err:sub(1, 7) ~= 'frugal:' then
          err = 'frugal: ' .. err
        end
        util.notify(err, levels.ERROR)
      end
      return
    end
    local text = type(result) == 'table' and val(result.text)
    if type(text) ~= 'string' then
      util.notify('frugal: the host sent no cost report', levels.ERROR)
      return
    end
    local report = val(result.report)
    if period == 'today' and type(report) == 'table' and tonumber(val(report.cost_usd)) then
      state.today = { usd = tonumber(val(report.cost_usd)), day = utc_day() }
    end
    local lines = util.text_lines(text)
    local path = val(result.path)
    lines[#lines + 1] = ''
    if type(path) == 'string' and path ~= '' then
      lines[#lines + 1] = 'ledger: ' .. vim.fn.fnamemodify(path, ':~')
    end
    lines[#lines + 1] = 'q: close'
    close()
    state.win = require('frugal.preview').open_window(lines, opts, 'frugal-cost')
  end)
end

return M
