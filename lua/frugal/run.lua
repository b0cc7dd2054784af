-- Running an action: `:Frugal {action}` sends `run` to the host, streams the answer into a side
-- window, and turns the final reply into what the action produces: markdown to read, an edit
-- proposal (diff, accept/reject), findings in the quickfix list, or a test file.
--
-- Edits are applied only to the region they were made for. From the request on, every change
-- to the buffer is logged (nvim_buf_attach), so the region the host names in buffer-at-request
-- lines can be found where it is now; from the answer on, two extmarks hold it. Accepting
-- re-reads the region and refuses when its text is not what the host was given.
--
-- `:Frugal again` continues a run's conversation (the host's `again`). Its answer is about the
-- same region, so a conversation keeps its own pair of extmarks (namespace `frugal-region`)
-- with the text the region should hold: the original text, or the text of the last proposal of
-- the conversation that was accepted. A follow-up's edit is anchored there, and refused when
-- those marks no longer hold that text.
local host = require('frugal.host')
local proposal = require('frugal.proposal')
local stream = require('frugal.stream')
local util = require('frugal.util')

local M = {}

local val = util.val
local levels = vim.log.levels

M.ns = vim.api.nvim_create_namespace('frugal')
M.region_ns = vim.api.nvim_create_namespace('frugal-region')

M.CHANGED = 'frugal: the code changed since the request; run the action again'

-- What each action's answer becomes when the host does not say (it does, in `output`).
local OUTPUTS = {
  fix = 'replace', refactor = 'replace', docs = 'replace', implement = 'replace',
  review = 'review', ['review-all'] = 'review', tests = 'tests',
}

local SPINNER = { '⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏' }
local TICK_MS = 100
local QUIET_MS = 2500 -- the spinner leaves a message on screen this long
local HUGE = 2 ^ 31
local SNAPSHOT_LINES = 3000 -- kept on each side of the cursor or selection at request time
local MAX_LOG = 20000 -- changes logged for a conversation's review lines; past this, lines as is

local state = {
  runs = {}, -- source bufnr -> run in flight
  order = {}, -- runs in flight, oldest first
  scratch = {}, -- stream buffer -> run
  timer = nil,
  frame = 0,
  quiet_until = 0,
  echoed = false,
  last_win = nil, -- the side window of the latest run, reused by the next one
  last_by_buf = {}, -- source bufnr -> its latest run or follow-up that was answered
  last_any = nil, -- the latest run or follow-up that was answered, in any buffer
}
M._state = state

local function notify(msg, level)
  state.quiet_until = util.now_ms() + QUIET_MS
  util.notify(msg, level)
end

local function prefixed(msg)
  msg = tostring(msg)
  if msg:sub(1, 7) ~= 'frugal:' then
    msg = 'frugal: ' .. msg
  end
  return msg
end

---------------------------------------------------------------------------------------------
-- Progress: status() and the spinner

local function elapsed(run)
  return (util.now_ms() - run.started) / 1000
end

local function describe(run)
  local s
  if run.model then
    s = string.format('frugal: %s %s %.1fs', run.tier or '?', run.model, elapsed(run))
  else
    s = string.format('frugal: %s %.1fs', run.action, elapsed(run))
  end
  if run.cancelling then
    s = s .. ' (cancelling)'
  end
  return s
end

-- The run `bufnr` (default: the current buffer) is waiting for, or the latest one in flight.
local function current_run(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local run = state.runs[bufnr] or state.scratch[bufnr]
  if run and not run.done then
    return run
  end
  return state.order[#state.order]
end

-- For a statusline: "frugal: mini gpt-5.4-mini 3.2s" while a request runs, "" otherwise.
function M.status(bufnr)
  local run = current_run(bufnr)
  if not run then
    return ''
  end
  return describe(run)
end

local function stop_timer()
  if state.timer then
    state.timer:stop()
    state.timer:close()
    state.timer = nil
  end
  if state.echoed then
    state.echoed = false
    if util.now_ms() >= state.quiet_until and vim.api.nvim_get_mode().mode ~= 'c' then
      vim.api.nvim_echo({ { '' } }, false, {})
    end
  end
end

local function tick()
  if #state.order == 0 then
    stop_timer()
    return
  end
  state.frame = state.frame % #SPINNER + 1
  local mode = vim.api.nvim_get_mode()
  local m = mode.mode:sub(1, 1)
  if util.now_ms() >= state.quiet_until and not mode.blocking and m ~= 'c' and m ~= 'r'
    and vim.o.cmdheight > 0 then
    local msg = SPINNER[state.frame] .. ' ' .. M.status()
    local room = vim.o.columns - 12
    if #msg > room then
      msg = msg:sub(1, math.max(0, room))
    end
    vim.api.nvim_echo({ { msg } }, false, {})
    state.echoed = true
  end
  if vim.o.statusline:find('frugal', 1, true) then
    vim.cmd('redrawstatus')
  end
end

local function start_timer()
  if state.timer then
    return
  end
  state.timer = util.uv.new_timer()
  state.timer:start(TICK_MS, TICK_MS, vim.schedule_wrap(function()
    if state.timer then
      tick()
    end
  end))
end

---------------------------------------------------------------------------------------------
-- Where lines of the buffer-at-request are now

-- Starts logging the changes made to the run's buffer: each is {first, last, new_last}
-- (0-based, end-exclusive; lines first..last were replaced by first..new_last).
local function watch(run)
  run.log = {}
  run.watching = true
  local ok = pcall(vim.api.nvim_buf_attach, run.bufnr, false, {
    on_lines = function(_, _, _, first, last, new_last)
      if not run.watching then
        return true -- detaches
      end
      if #run.log >= MAX_LOG then
        -- Kept for a conversation that goes on and on: stop; its lines are then taken as is.
        run.log = { { 0, HUGE, HUGE } }
        run.watching = false
        return true
      end
      run.log[#run.log + 1] = { first, last, new_last }
    end,
    on_reload = function()
      if run.watching then
        run.log[#run.log + 1] = { 0, HUGE, HUGE }
      end
    end,
    on_detach = function()
      if run.watching then
        run.log[#run.log + 1] = { 0, HUGE, HUGE }
        run.watching = false
      end
    end,
  })
  if not ok then
    run.watching = false
    run.log = { { 0, HUGE, HUGE } } -- not watched: nothing can be trusted to be where it was
  end
end

-- Lines [s, e) (0-based) of the buffer-at-request: where they are now, and whether a change
-- since may have touched them (a change that overlaps them, or lines inserted among them).
function M._map_region(log, s, e)
  local touched = false
  for _, c in ipairs(log) do
    local first, last, new_last = c[1], c[2], c[3]
    if last <= s then
      -- Above the region (lines inserted right before its first line included): it moves.
      s, e = s + new_last - last, e + new_last - last
    elseif first >= e then -- luacheck: ignore 542
      -- Below it (lines added right after its last line included): nothing moves.
    else
      touched = true
      s, e = math.min(s, first), math.max(e + new_last - last, new_last)
    end
  end
  return s, e, touched
end

-- Line `l` (1-based) of the buffer-at-request, where it is now (1-based).
function M._map_line(log, l)
  local r = l - 1
  for _, c in ipairs(log) do
    local first, last, new_last = c[1], c[2], c[3]
    if r >= last then
      r = r + new_last - last
    elseif r >= first then
      r = math.min(r, math.max(first, new_last - 1))
    end
  end
  return math.max(1, r + 1)
end

---------------------------------------------------------------------------------------------
-- Windows

local function source_window(run)
  if run.source_win and vim.api.nvim_win_is_valid(run.source_win)
    and vim.api.nvim_win_get_buf(run.source_win) == run.bufnr then
    return run.source_win
  end
  local wins = vim.fn.win_findbuf(run.bufnr)
  return wins[1]
end

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
  return source_window(run)
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

-- Remembers that scratch buffer `buf` (an answer or a proposal) belongs to `run`.
local function track(run, buf)
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

local function stream_keys(run, buf)
  track(run, buf)
  vim.keymap.set('n', 'q', function()
    if not run.done then
      M.cancel(run)
    end
    close_stream(run)
  end, { buffer = buf, nowait = true, silent = true, desc = 'frugal: close (and cancel)' })
  vim.keymap.set('n', '<C-c>', function()
    if not run.done then
      M.cancel(run)
    end
  end, { buffer = buf, nowait = true, silent = true, desc = 'frugal: cancel' })
end

---------------------------------------------------------------------------------------------
-- Starting, streaming, cancelling

-- The run has ended. Its change log goes on only when `keep_log` (a review whose conversation
-- may go on: a follow-up's findings are in the same lines).
local function forget(run, keep_log)
  run.done = true
  if not keep_log then
    run.watching = false
  end
  if state.runs[run.bufnr] == run then
    state.runs[run.bufnr] = nil
  end
  for i, r in ipairs(state.order) do
    if r == run then
      table.remove(state.order, i)
      break
    end
  end
  if #state.order == 0 then
    stop_timer()
  end
end

local function on_event(run, ev)
  if run.done or type(ev) ~= 'table' then
    return
  end
  local kind = val(ev.kind)
  if kind == 'text' then
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
    local delay = tonumber(val(ev.delay_ms)) or 0
    local why = val(ev.why)
    notify(string.format('frugal: retrying in %.1fs: %s', delay / 1000,
      why and tostring(why) or 'the provider failed'), levels.WARN)
  elseif kind == 'escalate' then
    -- The Mini answer could not be used; the same request went to Full. Its answer follows in
    -- the same window, after a marker.
    run.tier = 'full'
    run.model = type(val(ev.model)) == 'string' and ev.model or run.model
    local why = val(ev.why)
    run.stream:append(string.format('\n\n--- escalated to full (%s): %s ---\n\n', run.model,
      why and tostring(why) or 'the answer could not be used'))
    notify(string.format('frugal: the mini answer could not be used (%s); asking %s',
      why and tostring(why) or '?', run.model), levels.WARN)
  elseif kind == 'reasoning' then
    local text = val(ev.text)
    run.reasoning = (run.reasoning or 0) + (type(text) == 'string' and #text or 0)
  end
end

local finish -- forward

local function busy_with(bufnr)
  local busy = state.runs[bufnr]
  if busy and not busy.done then
    notify(string.format('frugal: %s is still running for this buffer; :Frugal cancel first',
      busy.action), levels.WARN)
    return true
  end
  return false
end

-- Shows the stream of `run` and tracks it as in flight.
local function launch(run, opts)
  run.stream = stream.open(run.again and (run.action .. '-again') or run.action,
    opts and opts.stream, reusable_window())
  state.last_win = run.stream.win
  stream_keys(run, run.stream.buf)
  state.runs[run.bufnr] = run
  state.order[#state.order + 1] = run
  start_timer()
end

-- Sends `run` for the request `req` with the params of a preview (init.lua's request_params).
-- `opts` is the editor options table. Returns the run, or nil when one is already running for
-- the buffer (the user is told).
function M.start(req, params, opts)
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
  }
  -- The conversation this run starts (`:Frugal again` continues it): its first run, and later
  -- the region its edits are about.
  run.conv = { root = run }
  watch(run)
  -- The lines around the request, as they are now: an edit's region found among them is
  -- checked against them, whatever the change log says.
  local around = params.sel_start or params.line or 1
  run.snap_first = math.max(0, around - 1 - SNAPSHOT_LINES)
  run.snap = vim.api.nvim_buf_get_lines(bufnr, run.snap_first,
    math.max(around, params.sel_end or around) + SNAPSHOT_LINES, false)
  launch(run, opts)
  run.id = host.call('run', params, function(err, result)
    finish(run, err, result)
  end, function(ev)
    on_event(run, ev)
  end)
  return run
end

-- The run or follow-up `:Frugal again` continues from buffer `bufnr`: the latest answered one
-- of that buffer, else the latest answered anywhere. Nil when there is none.
function M.last_answered(bufnr)
  return state.last_by_buf[bufnr] or state.last_any
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
  }
  launch(run, opts)
  run.id = host.call('again', {
    id = prev.id,
    instruction = req.instruction,
    tier = req.tier,
    budget_override = req.budget_override or nil,
  }, function(err, result)
    finish(run, err, result)
  end, function(ev)
    on_event(run, ev)
  end)
  return run
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
      notify('frugal: several requests are running; cancel from the buffer of the one to stop',
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
-- Results

local function summary(run, result)
  local parts = { string.format('frugal: %s%s done in %.1fs', run.action,
    run.again and ' again' or '', elapsed(run)) }
  local model = val(result.model) or run.model
  local tier = val(result.tier) or run.tier
  if model then
    parts[#parts + 1] = string.format('on %s %s', tier or '?', model)
  end
  local usage = val(result.usage)
  if type(usage) == 'table' then
    local cached = tonumber(val(usage.cached_input_tokens)) or 0
    parts[#parts + 1] = string.format('%s in%s + %s out tokens%s',
      util.thousands(usage.input_tokens),
      cached > 0 and (' (' .. util.thousands(cached) .. ' cached)') or '',
      util.thousands(usage.output_tokens),
      val(usage.estimated) == true and ' (estimated)' or '')
  end
  local cost = tonumber(val(result.cost_usd))
  if cost then
    parts[#parts + 1] = string.format('$%.4f', cost)
  end
  -- A conversation on mini ends after max_turns (conversation.max_turns); full has no limit.
  local turn, max_turns = tonumber(val(result.turn)), tonumber(val(result.max_turns))
  if turn and tier == 'mini' and max_turns then
    parts[#parts + 1] = string.format('turn %d of %d', turn, max_turns)
  elseif turn and turn > 1 then
    parts[#parts + 1] = string.format('turn %d', turn)
  end
  return table.concat(parts, ', ')
end

local function rel(path)
  if type(path) ~= 'string' or path == '' then
    return '[No Name]'
  end
  return vim.fn.fnamemodify(path, ':~:.')
end

local function show_problem(run, problem)
  local text = run.stream:text()
  local note = (text == '' or text:sub(-1) == '\n') and '' or '\n'
  run.stream:reshow()
  run.stream:append(note .. '\n---\nfrugal: ' .. problem .. ' (nothing to apply)\n')
  notify(string.format('frugal: %s: %s; nothing to apply', run.action, problem), levels.WARN)
end

-- A region held by extmarks: `p` has bufnr, before (the lines it should hold), mark_s, mark_e,
-- at_end (an empty region: the mark is at the end of the line above it) and ns (default M.ns).
local function delete_marks(p)
  if p.bufnr and vim.api.nvim_buf_is_valid(p.bufnr) then
    for _, id in ipairs({ p.mark_s, p.mark_e }) do
      if id then
        pcall(vim.api.nvim_buf_del_extmark, p.bufnr, p.ns or M.ns, id)
      end
    end
  end
  p.mark_s, p.mark_e = nil, nil
end

-- Holds lines [s, e) (0-based) of p.bufnr, whose text is p.before, with two extmarks.
local function place_marks(p, s, e)
  local ns = p.ns or M.ns
  if e > s then
    p.mark_s = vim.api.nvim_buf_set_extmark(p.bufnr, ns, s, 0, { right_gravity = true })
    p.mark_e = vim.api.nvim_buf_set_extmark(p.bufnr, ns, e - 1, #p.before[#p.before],
      { right_gravity = false })
  elseif s > 0 then
    -- Nothing replaced, lines inserted before line s: hold the end of the line above so lines
    -- added around do not move the spot.
    local above = vim.api.nvim_buf_get_lines(p.bufnr, s - 1, s, false)[1] or ''
    p.mark_s = vim.api.nvim_buf_set_extmark(p.bufnr, ns, s - 1, #above,
      { right_gravity = false })
    p.at_end = true
    p.mark_e = p.mark_s
  else
    -- ... or the start of the buffer.
    p.mark_s = vim.api.nvim_buf_set_extmark(p.bufnr, ns, 0, 0, { right_gravity = false })
    p.at_end = false
    p.mark_e = p.mark_s
  end
end

-- The current lines [s, e) of the proposal's region, or nil and why when they cannot be had.
local function anchored_region(p)
  if not (vim.api.nvim_buf_is_valid(p.bufnr) and vim.api.nvim_buf_is_loaded(p.bufnr)) then
    return nil, 'frugal: the buffer of this proposal is gone'
  end
  if p.touched or not p.mark_s then
    return nil, M.CHANGED
  end
  local ns = p.ns or M.ns
  local sm = vim.api.nvim_buf_get_extmark_by_id(p.bufnr, ns, p.mark_s, {})
  local em = vim.api.nvim_buf_get_extmark_by_id(p.bufnr, ns, p.mark_e, {})
  if not (sm and sm[1] and em and em[1]) then
    return nil, M.CHANGED
  end
  if #p.before == 0 then
    -- An insertion: the mark holds the end of the line above, or the start of the buffer.
    if p.at_end then
      local line = vim.api.nvim_buf_get_lines(p.bufnr, sm[1], sm[1] + 1, false)[1] or ''
      if sm[2] ~= #line then
        return nil, M.CHANGED
      end
      return sm[1] + 1, sm[1] + 1
    end
    if sm[1] ~= 0 or sm[2] ~= 0 then
      return nil, M.CHANGED
    end
    return 0, 0
  end
  if sm[2] ~= 0 or em[1] < sm[1] then
    return nil, M.CHANGED
  end
  local lines = vim.api.nvim_buf_get_lines(p.bufnr, sm[1], em[1] + 1, false)
  if em[2] ~= #(lines[#lines] or '') or #lines ~= #p.before then
    return nil, M.CHANGED
  end
  for i, l in ipairs(lines) do
    if l ~= p.before[i] then
      return nil, M.CHANGED
    end
  end
  return sm[1], em[1] + 1
end

-- Applies a replace proposal: one nvim_buf_set_lines over exactly the anchored region (one
-- undo step). Returns true when applied; false (and says why) when refused.
function M._accept_replace(p)
  local s, e = anchored_region(p)
  if not s then
    notify(e, levels.ERROR)
    return false
  end
  local ok, err = pcall(vim.api.nvim_buf_set_lines, p.bufnr, s, e, false, p.after)
  if not ok then
    notify('frugal: could not apply the change: ' .. tostring(err), levels.ERROR)
    return false
  end
  delete_marks(p)
  local conv = p.conv
  if conv then
    -- The conversation's region is now the text just written; a follow-up's edit replaces it.
    if conv.region then
      delete_marks(conv.region)
    end
    conv.region = { bufnr = p.bufnr, ns = M.region_ns, before = vim.deepcopy(p.after) }
    place_marks(conv.region, s, s + #p.after)
  end
  notify(string.format('frugal: %s applied to lines %d-%d (u undoes it)', p.action, s + 1,
    s + math.max(#p.after, 1)), levels.INFO)
  return true
end

-- Lines sl..el (1-based, inclusive) of the buffer as it was at `run`'s request: where they are
-- now, [s, e) 0-based, and whether they can no longer be trusted to hold what was sent.
local function locate(run, sl, el)
  local bufnr = run.bufnr
  local n = el - sl + 1
  local s, e, touched = M._map_region(run.log or {}, sl - 1, el)
  local count = vim.api.nvim_buf_line_count(bufnr)
  -- The region as it was at the request, when the snapshot holds it, has the last word: the
  -- lines must be there unchanged. A change the log reports wider than it was (some commands
  -- report a line they did not alter) is then no reason to refuse.
  local i0 = sl - 1 - (run.snap_first or 0)
  if run.snap and i0 >= 0 and i0 + n <= #run.snap then
    local candidates = touched and { s, e - n } or { s }
    touched = true
    for _, c in ipairs(candidates) do
      if c >= 0 and c + n <= count then
        local now = vim.api.nvim_buf_get_lines(bufnr, c, c + n, false)
        local same = true
        for i = 1, n do
          if now[i] ~= run.snap[i0 + i] then
            same = false
            break
          end
        end
        if same then
          return c, c + n, false
        end
      end
    end
  elseif e > count or s < 0 or e - s ~= n then
    touched = true
  end
  return s, e, touched
end

-- Starts holding the region of `run`'s conversation, lines sl..el of the buffer at the request,
-- unless it is held already or cannot be found as it was.
local function hold_conversation_region(run, sl, el)
  local conv = run.conv
  if not conv or conv.region or run.again or not (sl and el and sl >= 1 and el >= sl - 1) then
    return
  end
  if not (vim.api.nvim_buf_is_valid(run.bufnr) and vim.api.nvim_buf_is_loaded(run.bufnr)) then
    return
  end
  local s, e, touched = locate(run, sl, el)
  if touched then
    return
  end
  conv.region = { bufnr = run.bufnr, ns = M.region_ns,
    before = vim.api.nvim_buf_get_lines(run.bufnr, s, e, false) }
  place_marks(conv.region, s, e)
end

local function propose_replace(run, result)
  local edit = val(result.edit)
  local sl = tonumber(val(edit.start_line))
  local el = tonumber(val(edit.end_line))
  local replacement = val(edit.replacement)
  if not (sl and el and sl >= 1 and el >= sl - 1 and type(replacement) == 'string') then
    show_problem(run, 'the host sent an edit without a valid region')
    return
  end
  local bufnr = run.bufnr
  if not (vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_buf_is_loaded(bufnr)) then
    notify('frugal: the buffer the request was made in is gone; nothing to apply',
      levels.ERROR)
    return
  end
  local p = { bufnr = bufnr, action = run.action, after = util.text_lines(replacement),
    conv = run.conv }
  local s, e, touched
  local note
  if run.again then
    -- A follow-up: its edit is for the conversation's region, wherever that is now.
    local region = run.conv and run.conv.region
    if region then
      s, e = anchored_region(region)
    end
    touched = not s
    if touched then
      note = 'NOTE: the region of the first request is gone or was edited since; this cannot '
        .. 'be applied (start a fresh request)'
      notify(string.format('frugal: %s again: the region of the first request is gone or was '
        .. 'edited since; the proposal cannot be applied', run.action), levels.WARN)
    else
      sl, el = s + 1, e
    end
  else
    s, e, touched = locate(run, sl, el)
    if touched then
      note = M.CHANGED:gsub('^frugal: ', 'NOTE: ') .. '; this cannot be applied'
    end
  end
  p.touched = touched
  if touched then
    p.before = {}
  else
    p.before = vim.api.nvim_buf_get_lines(bufnr, s, e, false)
    place_marks(p, s, e)
  end
  local lines = {
    string.format('frugal %s%s: %s, lines %d-%d (%s)', run.action, run.again and ' again' or '',
      rel(run.path), sl, el, val(result.model) or run.model or '?'),
    'a or <CR>: accept   r or q: reject   d: side by side',
  }
  if note then
    lines[#lines + 1] = note
  end
  lines[#lines + 1] = ''
  lines[#lines + 1] = '--- ' .. rel(run.path)
  lines[#lines + 1] = '+++ ' .. rel(run.path) .. ' (proposed)'
  local diff = proposal.unified(p.before, p.after, touched and sl - 1 or s)
  if #diff == 0 then
    lines[#lines + 1] = '(the answer changes nothing)'
  end
  vim.list_extend(lines, diff)
  local win = run.stream:window()
  local shown = proposal.show({
    name = run.action .. '-proposal',
    lines = lines,
    opts = run.stream.opts,
    win = win,
    sides = { before = p.before, after = p.after, filetype = run.filetype },
    on_accept = function()
      if M._accept_replace(p) then
        require('frugal.cost').outcome(result, 'applied')
        return true
      end
      return false
    end,
    on_reject = function()
      delete_marks(p)
      require('frugal.cost').outcome(result, 'rejected')
    end,
  })
  track(run, shown.buf)
  state.last_win = shown.win
  run.proposal = shown
  M._last_proposal = p
  notify(summary(run, result) .. '; proposal in the frugal window: a accept, r reject',
    levels.INFO)
end

-- Open `path` for the new test file: a new buffer with `lines`, modified and not written (the
-- user saves it); its folder is made when it is written.
local function open_new_file(run, path, lines)
  if vim.fn.filereadable(path) == 1 or vim.fn.isdirectory(path) == 1 then
    notify(string.format('frugal: %s exists now; frugal never overwrites a file: run the '
      .. 'action again', rel(path)), levels.ERROR)
    return false
  end
  local existing = vim.fn.bufnr(path)
  if existing ~= -1 and vim.api.nvim_buf_is_loaded(existing) then
    local cur = vim.api.nvim_buf_get_lines(existing, 0, -1, false)
    if #cur > 1 or (cur[1] or '') ~= '' then
      notify(string.format('frugal: %s is open with text in it; frugal never overwrites: run '
        .. 'the action again', rel(path)), levels.ERROR)
      return false
    end
  end
  local win = source_window(run)
  if win then
    vim.api.nvim_set_current_win(win)
  end
  vim.cmd('split ' .. vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.api.nvim_create_autocmd('BufWritePre', {
    buffer = buf,
    callback = function(ev)
      local dir = vim.fn.fnamemodify(ev.match ~= '' and ev.match or path, ':p:h')
      if vim.fn.isdirectory(dir) == 0 then
        vim.fn.mkdir(dir, 'p')
      end
    end,
  })
  notify(string.format('frugal: new test file %s (not saved: :w writes it)', rel(path)),
    levels.INFO)
  return true
end

-- Appends `lines` to the end of file `path` in its buffer (loaded if needed), one undo step.
local function append_to_file(run, path, lines)
  local buf = vim.fn.bufadd(path)
  local ok, err = pcall(vim.fn.bufload, buf)
  if not ok then
    notify(string.format('frugal: could not load %s: %s', rel(path), tostring(err)),
      levels.ERROR)
    return false
  end
  util.set_buf_option(buf, 'buflisted', true)
  local count = vim.api.nvim_buf_line_count(buf)
  local first = vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] or ''
  local at = count
  if count == 1 and first == '' then
    at = 0 -- an empty file: its one empty line is replaced
  end
  ok, err = pcall(vim.api.nvim_buf_set_lines, buf, at, count, false, lines)
  if not ok then
    notify(string.format('frugal: could not append to %s: %s', rel(path), tostring(err)),
      levels.ERROR)
    return false
  end
  local shown = vim.fn.win_findbuf(buf)[1]
  if not shown then
    local win = source_window(run)
    if win then
      vim.api.nvim_set_current_win(win)
    end
    vim.cmd('sbuffer ' .. buf)
    shown = vim.api.nvim_get_current_win()
  end
  pcall(vim.api.nvim_win_set_cursor, shown, { at + 1, 0 })
  notify(string.format('frugal: tests appended to %s at line %d (not saved)', rel(path), at + 1),
    levels.INFO)
  return true
end

local function propose_tests(run, result)
  local t = val(result.tests)
  local path = type(t) == 'table' and val(t.path)
  local content = type(t) == 'table' and val(t.content)
  if type(path) ~= 'string' or path == '' or type(content) ~= 'string' then
    show_problem(run, 'the host sent tests without a path or content')
    return
  end
  path = vim.fn.fnamemodify(path, ':p')
  local lines = util.text_lines(content)
  local exists = val(t.exists) == true
  local out = {
    string.format('frugal tests: %s (%s)', rel(path), exists and 'appended at its end'
      or 'a new file, not saved until you write it'),
    'a or <CR>: accept   r or q: reject',
  }
  local why = val(t.why)
  if type(why) == 'string' and why ~= '' then
    out[#out + 1] = 'why: ' .. why
  end
  out[#out + 1] = ''
  if exists then
    local buf = vim.fn.bufadd(path)
    pcall(vim.fn.bufload, buf)
    local cur = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    if #cur == 1 and cur[1] == '' then
      cur = {}
    end
    local ctx = math.min(3, #cur)
    out[#out + 1] = '--- ' .. rel(path)
    out[#out + 1] = '+++ ' .. rel(path) .. ' (proposed)'
    out[#out + 1] = string.format('@@ -%d,%d +%d,%d @@', #cur - ctx + 1, ctx, #cur - ctx + 1,
      ctx + #lines)
    for i = #cur - ctx + 1, #cur do
      out[#out + 1] = ' ' .. cur[i]
    end
  else
    out[#out + 1] = '--- /dev/null'
    out[#out + 1] = '+++ ' .. rel(path) .. ' (new)'
    out[#out + 1] = string.format('@@ -0,0 +1,%d @@', #lines)
  end
  for _, l in ipairs(lines) do
    out[#out + 1] = '+' .. l
  end
  local shown = proposal.show({
    name = 'tests-proposal',
    lines = out,
    opts = run.stream.opts,
    win = run.stream:window(),
    on_accept = function()
      local done
      if exists then
        done = append_to_file(run, path, lines)
      else
        done = open_new_file(run, path, lines)
      end
      if done then
        require('frugal.cost').outcome(result, 'applied')
      end
      return done
    end,
    on_reject = function()
      require('frugal.cost').outcome(result, 'rejected')
    end,
  })
  track(run, shown.buf)
  state.last_win = shown.win
  run.proposal = shown
  notify(summary(run, result) .. '; tests in the frugal window: a accept, r reject', levels.INFO)
end

local function review(run, result)
  local findings = val(result.findings)
  local items = {}
  local name = vim.api.nvim_buf_is_valid(run.bufnr) and vim.api.nvim_buf_get_name(run.bufnr)
    or run.path
  for _, f in ipairs(type(findings) == 'table' and findings or {}) do
    f = val(f)
    local line = type(f) == 'table' and tonumber(val(f.line))
    local message = type(f) == 'table' and val(f.message)
    if line and type(message) == 'string' then
      local log = run.again and run.conv and run.conv.root.log or run.log
      local item = {
        lnum = M._map_line(log or {}, math.max(1, math.floor(line))),
        text = '[frugal] ' .. message:gsub('\n', ' '),
      }
      if name and name ~= '' then
        item.filename = name
      else
        item.bufnr = run.bufnr
      end
      items[#items + 1] = item
    end
  end
  if #items == 0 then
    notify(summary(run, result) .. '; no findings', levels.INFO)
    return
  end
  vim.fn.setqflist({}, ' ', { title = 'frugal ' .. run.action .. ': ' .. rel(name),
    items = items })
  local cur = vim.api.nvim_get_current_win()
  vim.cmd('botright copen')
  if vim.api.nvim_win_is_valid(cur) then
    vim.api.nvim_set_current_win(cur)
  end
  notify(string.format('%s; %d finding%s in the quickfix list', summary(run, result), #items,
    #items == 1 and '' or 's'), levels.INFO)
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
local function answered(run)
  local before = { state.last_by_buf[run.bufnr], state.last_any }
  state.last_by_buf[run.bufnr] = run
  state.last_any = run
  for i = 1, 2 do
    local old = before[i]
    if old and old.conv and old.conv ~= run.conv and not reachable(old.conv) then
      if old.conv.region then
        delete_marks(old.conv.region)
        old.conv.region = nil
      end
      old.conv.root.watching = false
    end
  end
end

local function handle_reply(run, err, result)
  result = type(val(result)) == 'table' and result or {}
  local output = val(result.output) or OUTPUTS[run.action] or 'markdown'
  forget(run, not err and output == 'review' and not run.again)
  require('frugal.cost').note_result(result)
  local st = run.stream
  st:flush()
  -- Text the events did not carry (a host that does not stream, or the tail of an answer).
  local text = val(result.text)
  if type(text) == 'string' then
    local got = st:text()
    if #text > #got and text:sub(1, #got) == got then
      st:append(text:sub(#got + 1))
      st:flush()
    end
  end
  st:done()
  if err then
    if st:text() == '' and err ~= 'cancelled' then
      close_stream(run) -- nothing arrived: an empty window says nothing the message does not
    end
    if err == 'cancelled' then
      notify(string.format('frugal: %s cancelled', run.action), levels.INFO)
    elseif not host.is_crash_error(err) then
      notify(prefixed(err), levels.ERROR)
    end
    return
  end
  answered(run)
  if output == 'replace' and not run.again then
    -- The region a follow-up's edit will be about: the edit's, or (no usable answer) the
    -- scope's, which is the same region.
    local edit = val(result.edit)
    local scope = type(edit) == 'table' and edit or val(run.scope)
    if type(scope) == 'table' then
      hold_conversation_region(run, tonumber(val(scope.start_line)),
        tonumber(val(scope.end_line)))
    end
  end
  local problem = val(result.problem)
  if type(problem) == 'string' and problem ~= '' then
    show_problem(run, problem)
    return
  end
  if output == 'replace' then
    if type(val(result.edit)) ~= 'table' then
      show_problem(run, 'the answer has no edit')
      return
    end
    propose_replace(run, result)
  elseif output == 'review' then
    review(run, result)
  elseif output == 'tests' then
    propose_tests(run, result)
  else
    notify(summary(run, result), levels.INFO)
  end
end

finish = function(run, err, result)
  if run.done then
    return
  end
  handle_reply(run, err, result)
  -- A conversation keeps its runs: the snapshot is not needed any more (its region has marks).
  run.snap = nil
end

-- The runs in flight (for tests and :checkhealth).
function M.in_flight()
  return #state.order
end

return M
