-- The state of runs: which are in flight, which frugal buffer (answer or proposal) belongs to
-- which run, and which answered run `:Frugal again` continues. One table, so that tests and
-- :checkhealth can look at it.
local progress = require('frugal.run.progress')
local region = require('frugal.run.region')

local M = {}

local state = {
  runs = {}, -- source bufnr -> run in flight
  order = progress._state.order, -- runs in flight, oldest first
  scratch = {}, -- answer or proposal buffer -> run
  last_win = nil, -- the side window of the latest run, reused by the next one
  last_by_buf = {}, -- source bufnr -> its latest run or follow-up that was answered
  last_any = nil, -- the latest run or follow-up that was answered, in any buffer
}
M.state = state

-- The window showing `run`'s source buffer: the one it was started from when it still does.
function M.source_window(run)
  if run.source_win and vim.api.nvim_win_is_valid(run.source_win)
    and vim.api.nvim_win_get_buf(run.source_win) == run.bufnr then
    return run.source_win
  end
  local wins = vim.fn.win_findbuf(run.bufnr)
  return wins[1]
end

-- Remembers that scratch buffer `buf` (an answer or a proposal) belongs to `run`.
function M.track(run, buf)
  state.scratch[buf] = run
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = buf,
    once = true,
    callback = function()
      if state.scratch[buf] == run then
        state.scratch[buf] = nil
      end
    end,
  })
end

-- `run` is in flight for its buffer.
function M.add(run)
  state.runs[run.bufnr] = run
  progress.add(run)
end

-- The run has ended. Its change log goes on only when `keep_log` (a review whose conversation
-- may go on: a follow-up's findings are in the same lines).
function M.forget(run, keep_log)
  run.done = true
  if not keep_log then
    run.watching = false
  end
  if state.runs[run.bufnr] == run then
    state.runs[run.bufnr] = nil
  end
  progress.remove(run)
end

-- Whether `:Frugal again` can still reach conversation `conv`.
local function reachable(conv)
  if state.last_any and state.last_any.conv == conv then
    return true
  end
  for _, r in pairs(state.last_by_buf) do
    if r.conv == conv then
      return true
    end
  end
  return false
end

-- `run` was answered: `:Frugal again` continues from it now. A conversation that can no longer
-- be reached lets go of its region and its change log.
function M.answered(run)
  local before = { state.last_by_buf[run.bufnr], state.last_any }
  state.last_by_buf[run.bufnr] = run
  state.last_any = run
  for i = 1, 2 do
    local old = before[i]
    if old and old.conv and old.conv ~= run.conv and not reachable(old.conv) then
      if old.conv.region then
        region.delete_marks(old.conv.region)
        old.conv.region = nil
      end
      old.conv.root.watching = false
    end
  end
end

return M
