-- Running an action: `:Frugal {action}` sends `run` to the host, streams the answer into a side
-- window, and turns the final reply into what the action produces (lua/frugal/run/results.lua):
-- markdown to read, an edit proposal, findings in the quickfix list, or a test file.
--
-- The parts: run/region.lua finds the request's lines where they are now (a change log, then
-- extmarks); run/progress.lua shows what runs in the statusline component and the answer
-- window's header; run/state.lua knows which runs are in flight and which answered run
-- `:Frugal again` continues; run/results.lua handles each kind of answer.
--
-- `:Frugal again` continues a run's conversation (the host's `again`). Its answer is about the
-- same region, so a conversation keeps its own pair of extmarks (namespace `frugal-region`)
-- with the text the region should hold: the original text, or the text of the last proposal of
-- the conversation that was accepted. A follow-up's edit is anchored there, and refused when
-- those marks no longer hold that text.
local host = require('frugal.host')
local msg = require('frugal.msg')
local progress = require('frugal.run.progress')
local proposal = require('frugal.proposal')
local region = require('frugal.run.region')
local results = require('frugal.run.results')
local runstate = require('frugal.run.state')
local stream = require('frugal.stream')
local util = require('frugal.util')

local M = {}

local val = util.val
local levels = vim.log.levels
local state = runstate.state

M.ns = region.ns
M.region_ns = region.region_ns
M.CHANGED = region.CHANGED
M._map_region = region.map_region
M._map_line = region.map_line
M._accept_replace = results.accept_replace

-- The tables tests and :checkhealth look at: the run state, and the progress timer.
M._state = setmetatable({}, {
  __index = function(_, k)
    if k == 'timer' then
      return progress._state.timer
    end
    return state[k]
  end,
})

-- What each action's answer becomes when the host does not say (it does, in `output`).
local catalogue = require('frugal.catalogue')

local incomplete_ns = vim.api.nvim_create_namespace('frugal-incomplete')
local turns_ns = vim.api.nvim_create_namespace('frugal-turns')
M.turns_ns = turns_ns

local function notify(text, level, short)
  msg.show(text, level, short)
end

local function prefixed(text)
  text = tostring(text)
  if text:sub(1, 7) ~= 'frugal:' then
    text = 'frugal: ' .. text
  end
  return text
end

-- For a statusline: "frugal: mini gpt-5.4-mini 3.2s" while a request runs, "" otherwise. The
-- same in every window (`bufnr` is accepted for older configurations and not used).
function M.status(_)
  return progress.status()
end

---------------------------------------------------------------------------------------------
-- Windows

-- The window a new run may take over: the previous run's, when it is done and holds no
-- proposal.
local function reusable_window()
  local win = state.last_win
  if not (win and vim.api.nvim_win_is_valid(win)) then
    return nil
  end
  local buf = vim.api.nvim_win_get_buf(win)
  local run = state.scratch[buf]
  if run and run.done and not proposal.get(buf) then
    return win
  end
  return nil
end

-- The run whose stream or proposal is in buffer `buf`, or nil.
function M.run_of_scratch(buf)
  return state.scratch[buf]
end

-- The window a command run from scratch buffer `buf` should act on instead: the code window the
-- run was started from (nil when `buf` is not frugal's).
function M.source_window_of(buf)
  local run = state.scratch[buf]
  if not run then
    return nil
  end
  return runstate.source_window(run)
end

local function close_stream(run)
  local win = run.stream and run.stream:window()
  if win then
    if #vim.api.nvim_list_wins() > 1 then
      pcall(vim.api.nvim_win_close, win, true)
    else
      pcall(vim.api.nvim_buf_delete, run.stream.buf, { force = true })
    end
  end
end

local function stream_keys(run, buf)
  runstate.track(run, buf)
  local function map(lhs, fn, desc)
    vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true, silent = true, desc = desc })
  end
  map('q', function()
    if not run.done then
      M.cancel(run)
    end
    close_stream(run)
  end, 'frugal: close (and cancel)')
  map('<C-c>', function()
    if not run.done then
      M.cancel(run)
    end
  end, 'frugal: cancel')
  map('R', function()
    M.retry(run)
  end, 'frugal: send this request again')
  map('a', function()
    vim.ui.input({ prompt = 'frugal follow-up: ' }, function(text)
      if text and text ~= '' then
        M.follow_up(run, { instruction = text })
      end
    end)
  end, 'frugal: write a follow-up (:Frugal again)')
end

-- Only the text of `run`'s own turn in its answer buffer (a conversation shares one).
local function turn_text(run)
  return run.stream:text():sub((run.text_from or 0) + 1)
end

-- A virtual line in the answer buffer, above (`above`) or below its last line.
local function turn_line(run, text, above)
  local st = run.stream
  if not st:buf_valid() then
    return
  end
  -- Marks that stay where they are when the next turn is appended: above the line the new turn
  -- starts on, or at the end of the turn's last line of text.
  local row = vim.api.nvim_buf_line_count(st.buf) - 1
  local col = 0
  if not above then
    local line = vim.api.nvim_buf_get_lines(st.buf, row, row + 1, false)[1] or ''
    if line == '' and row > 0 then
      row = row - 1
      line = vim.api.nvim_buf_get_lines(st.buf, row, row + 1, false)[1] or ''
    end
    col = #line
  end
  pcall(vim.api.nvim_buf_set_extmark, st.buf, turns_ns, row, col, {
    virt_lines = { { { text, 'Comment' } } },
    virt_lines_above = above or false,
    right_gravity = false,
  })
end
M._turn_line = turn_line

-- How to act on a proposal, for the done message: the keys in the proposal window and, when
-- set, the source buffer's.
local function keys_hint(shown)
  local keys = shown and shown.source_keys
  if keys and keys.accept then
    return string.format('%s accepts, %s rejects', keys.accept, keys.reject or 'r')
  end
  return 'a accepts, r rejects (frugal window)'
end

---------------------------------------------------------------------------------------------
-- Starting, streaming, cancelling

local function on_event(run, ev)
  if run.done or type(ev) ~= 'table' then
    return
  end
  local kind = val(ev.kind)
  if kind == 'text' then
    run.note = nil
    run.stream:append(val(ev.text))
  elseif kind == 'start' then
    run.tier = type(val(ev.tier)) == 'string' and ev.tier or run.tier
    run.model = type(val(ev.model)) == 'string' and ev.model or run.model
    run.scope = val(ev.scope)
    local warning = val(ev.warning)
    if type(warning) == 'string' and warning ~= '' then
      notify(prefixed(warning), levels.WARN)
    end
  elseif kind == 'retry' then
    -- Not a message: the status and the header say it while it lasts, :Frugal messages keeps it.
    local delay = tonumber(val(ev.delay_ms)) or 0
    local why = val(ev.why)
    run.note = string.format('retrying in %.1fs: %s', delay / 1000,
      why and tostring(why) or 'the provider failed')
    table.insert(msg.history, { text = 'frugal: ' .. run.note, level = levels.WARN })
  elseif kind == 'escalate' then
    -- The Mini answer could not be used; the same request went to Full. Its answer follows in
    -- the same window, after a marker; the header says so too.
    run.tier = 'full'
    run.model = type(val(ev.model)) == 'string' and ev.model or run.model
    local why = val(ev.why)
    run.stream:append(string.format('\n\n--- escalated to full (%s): %s ---\n\n', run.model,
      why and tostring(why) or 'the answer could not be used'))
    run.note = 'escalated: ' .. (why and tostring(why) or 'the mini answer could not be used')
    table.insert(msg.history, { text = string.format(
      'frugal: the mini answer could not be used (%s); asking %s', why and tostring(why) or '?',
      run.model), level = levels.WARN })
  elseif kind == 'reasoning' then
    local text = val(ev.text)
    run.reasoning = (run.reasoning or 0) + (type(text) == 'string' and #text or 0)
  end
  progress.refresh(run)
end

local finish -- forward

local function busy_with(bufnr)
  local busy = state.runs[bufnr]
  if busy and not busy.done then
    notify(string.format('frugal: %s is still running here; :Frugal cancel first', busy.action),
      levels.WARN)
    return true
  end
  return false
end

-- Shows the stream of `run` and tracks it as in flight. A follow-up of an answer that is still
-- in its buffer goes on in that buffer: the conversation stays readable, turn after turn.
local function launch(run, opts)
  run.opts = opts
  local prev = run.prev
  if run.again and prev and prev.stream and prev.stream:buf_valid() and prev.output == 'markdown'
    and state.scratch[prev.stream.buf] == prev then
    run.stream = prev.stream
    local before = run.stream:text()
    run.stream:reshow()
    -- A blank line between the turns (the previous one may not end its last line).
    run.stream:append(before:sub(-1) == '\n' and '\n' or '\n\n')
    run.stream:flush()
    run.text_from = #run.stream:text()
    turn_line(run, string.format('── you (%s): %s', run.tier or 'follow-up',
      run.req.instruction or ''), true)
  else
    run.stream = stream.open(run.again and (run.action .. '-again') or run.action,
      opts and opts.stream, reusable_window())
    run.text_from = 0
  end
  state.last_win = run.stream:window() or run.stream.win
  stream_keys(run, run.stream.buf)
  runstate.add(run)
end

local function send(run, method, params)
  run.id = host.call(method, params, function(err, result)
    finish(run, err, result)
  end, function(ev)
    on_event(run, ev)
  end)
end

-- Sends `run` for the request `req` with the params of a preview (init.lua's build_params).
-- `opts` is the editor options table; `kept` what each file in scope was at the request
-- (lua/frugal/scope.lua), which a multi-file proposal is checked against. Returns the run, or
-- nil when one is already running for the buffer (the user is told).
function M.start(req, params, opts, kept)
  local bufnr = params.bufnr
  if busy_with(bufnr) then
    return nil
  end
  params.changedtick = vim.api.nvim_buf_get_changedtick(bufnr)
  local run = {
    bufnr = bufnr,
    action = req.action,
    tier = req.tier,
    path = params.path,
    filetype = params.filetype,
    started = util.now_ms(),
    source_win = vim.api.nvim_get_current_win(),
    req = req,
    params = params,
    kept = kept,
  }
  -- The conversation this run starts (`:Frugal again` continues it): its first run, and later
  -- the region its edits are about.
  run.conv = { root = run }
  region.watch(run)
  region.snapshot(run, params)
  launch(run, opts)
  send(run, 'run', params)
  return run
end

-- The run or follow-up `:Frugal again` continues from buffer `bufnr`: the latest answered one
-- of that buffer, else the latest answered anywhere. Nil when there is none.
function M.last_answered(bufnr)
  return state.last_by_buf[bufnr] or state.last_any
end

local function follow_up(prev, req, opts)
  if busy_with(prev.bufnr) then
    return nil
  end
  local run = {
    bufnr = prev.bufnr,
    action = prev.action,
    tier = req.tier,
    path = prev.path,
    filetype = prev.filetype,
    started = util.now_ms(),
    source_win = vim.api.nvim_get_current_win(),
    conv = prev.conv,
    again = true,
    prev = prev,
    req = req,
    kept = prev.kept,
  }
  launch(run, opts)
  send(run, 'again', {
    id = prev.id,
    instruction = req.instruction,
    tier = req.tier,
    budget_override = req.budget_override or nil,
  })
  return run
end

-- Moves the focus to the window of `run`'s code (a request made from a frugal window is about
-- the code it came from).
local function focus_source(run)
  local win = runstate.source_window(run)
  if win then
    vim.api.nvim_set_current_win(win)
  end
end

-- A follow-up in `run`'s conversation, from its answer window (`a` there): continues the
-- latest answered turn of that conversation.
function M.follow_up(run, req)
  local prev = state.last_by_buf[run.bufnr]
  if not (prev and prev.conv == run.conv) then
    prev = run
  end
  if not prev.id or prev.failed or not prev.done then
    notify('frugal: this answer is not complete; R retries it', levels.INFO)
    return nil
  end
  focus_source(prev)
  return follow_up(prev, req, prev.opts or require('frugal').editor_options())
end

-- :Frugal again: sends the host's `again` for the conversation of M.last_answered(current
-- buffer) with req.instruction (req.tier, req.budget_override) and handles the answer like a
-- run's, about the same buffer and region. Returns the run, or nil (the user is told why).
function M.again(req, opts)
  local prev = M.last_answered(vim.api.nvim_get_current_buf())
  if not prev then
    notify('frugal: no earlier request to continue', levels.ERROR)
    return nil
  end
  return follow_up(prev, req, opts)
end

-- Sends a run that ended in an error again, the same request (`R` in its answer window).
-- Returns the new run, or nil (the user is told why).
function M.retry(run)
  if not run.done then
    notify('frugal: still running; <C-c> cancels it', levels.INFO)
    return nil
  end
  if not run.failed then
    notify('frugal: this answer is complete; :Frugal again asks a follow-up', levels.INFO)
    return nil
  end
  if not vim.api.nvim_buf_is_valid(run.bufnr) then
    notify('frugal: the buffer of this request is gone', levels.ERROR)
    return nil
  end
  focus_source(run)
  if run.again then
    return follow_up(run.prev, run.req, run.opts)
  end
  local params = vim.deepcopy(run.params)
  return M.start(run.req, params, run.opts, run.kept)
end

-- Asks the host to cancel `run`; its reply then ends it ("cancelled"). False when it is done.
function M.cancel(run)
  if not run or run.done or not run.id then
    return false
  end
  if run.cancelling then
    return true
  end
  run.cancelling = true
  progress.refresh(run)
  host.cancel(run.id, function(err)
    if err and not host.is_crash_error(err) and not run.done then
      notify('frugal: could not cancel: ' .. tostring(err), levels.ERROR)
    end
  end)
  return true
end

-- :Frugal cancel: the run of the current buffer (or of the frugal window it is in), else the
-- only one in flight.
function M.cancel_current()
  local buf = vim.api.nvim_get_current_buf()
  local run = state.scratch[buf] or state.runs[buf]
  if not run or run.done then
    run = nil
    if #state.order == 1 then
      run = state.order[1]
    elseif #state.order > 1 then
      notify('frugal: several requests run; cancel from the buffer of the one to stop',
        levels.WARN)
      return false
    end
  end
  if not run then
    notify('frugal: nothing to cancel', levels.INFO)
    return false
  end
  return M.cancel(run)
end

---------------------------------------------------------------------------------------------
-- The reply

-- The host's error in the editor's words, and a short form for the message line. A budget
-- refusal names the command line's flag too; inside the editor the way is `budget=ignore`.
local function editor_words(err)
  err = err:gsub(' %(frugal run %-%-over%-budget%)', '')
  local turns = err:match('mini conversation has reached (%d+) turns')
  if turns then
    local action = err:match('fresh request %(:Frugal ([%w-]+)%)') or '{action}'
    return err, string.format('frugal: %s mini turns reached; :Frugal! again goes on, '
      .. ':Frugal %s starts afresh', turns, action)
  end
  local name, limit, state_word, spent = err:match(
    '^frugal: (%a+) budget of %$([%d.]+) (%a+ ?%a*): %$([%d.]+) spent')
  if not name then
    return err, nil
  end
  local short = string.format('frugal: %s budget $%s %s; add budget=ignore ($%s spent)', name,
    limit, state_word, spent)
  return err, short
end

-- Marks the answer of a run that failed midway: it is incomplete, `R` sends it again.
local function mark_incomplete(run, err)
  run.failed = true
  local st = run.stream
  local win = st:window()
  local why = msg.fit(tostring(err), 60)
  if win then
    progress.set_header(win, string.format('frugal %s: INCOMPLETE (%s); R retries', run.action,
      why))
  end
  if st:buf_valid() then
    local last = vim.api.nvim_buf_line_count(st.buf) - 1
    pcall(vim.api.nvim_buf_set_extmark, st.buf, incomplete_ns, last, 0, {
      virt_lines = { { { '[incomplete: ' .. why .. '; R retries]', 'WarningMsg' } } },
    })
  end
end

local function handle_reply(run, err, result)
  result = type(val(result)) == 'table' and result or {}
  local output = val(result.output)
    or (catalogue.action_info[run.action] or {}).output or 'markdown'
  run.output = output
  runstate.forget(run, not err and output == 'review' and not run.again)
  require('frugal.cost').note_result(result)
  local st = run.stream
  st:flush()
  -- Text the events did not carry (a host that does not stream, or the tail of an answer).
  local text = val(result.text)
  if type(text) == 'string' then
    local got = turn_text(run)
    if #text > #got and text:sub(1, #got) == got then
      st:append(text:sub(#got + 1))
      st:flush()
    end
  end
  st:done()
  if err then
    if err == 'cancelled' then
      progress.set_header(st:window(), string.format('frugal %s: cancelled', run.action))
      notify(string.format('frugal: %s cancelled', run.action), levels.INFO)
      return
    end
    if turn_text(run) == '' and (run.text_from or 0) == 0 then
      close_stream(run) -- nothing arrived: an empty window says nothing the message does not
      run.failed = true
    elseif turn_text(run) == '' then
      -- A follow-up refused or failed before its answer began: the conversation is as it was.
      run.failed = true
      progress.set_header(st:window(), string.format('%s again · not sent: %s', run.action,
        err))
    else
      mark_incomplete(run, err)
    end
    if not host.is_crash_error(err) then
      local full, short = editor_words(prefixed(err))
      if not short and turn_text(run) ~= '' then
        short = string.format('frugal: %s incomplete (R retries): %s', run.action,
          full:gsub('^frugal: ', ''))
      end
      notify(full, levels.ERROR, short)
    end
    return
  end
  runstate.answered(run)
  results.handle(run, output, result, keys_hint)
end

finish = function(run, err, result)
  if run.done then
    return
  end
  handle_reply(run, err, result)
  -- A conversation keeps its runs: the snapshot is not needed any more (its region has marks).
  run.snap = nil
  -- Whoever started the run wants to know how it ended (a plan step: lua/frugal/plan.lua); the
  -- answer has been handled, so run.proposal is the proposal shown, if any.
  local on_done = run.req and run.req.on_done
  if on_done then
    on_done(run, err, type(val(result)) == 'table' and result or {})
  end
end

-- The runs in flight (for tests and :checkhealth).
function M.in_flight()
  return #state.order
end

return M
