-- The plan buffer (|frugal-plan-buffer|): `:Frugal plan GOAL` asks Full for a plan, which opens
-- in an editable scratch buffer (filetype `frugalplan`): a "# goal:" line and one step a line,
-- `N. ACTION PATH[:LINE] - instruction`. What frugal knows of each step (status, tier, tokens,
-- cost) and the running total are extmarks at the end of the lines, never text of the buffer,
-- so the text stays exactly what the host parses.
--
-- Running a step checks the whole buffer with the host's `plan_validate`, then sends `run` with
-- plan = {text, n, goal, task_id} and the step's file as the buffer (loaded, never written).
-- Its answer is a normal proposal; accepting it marks the step applied and, when all remaining
-- steps run, sends the next one. Every status change is stored with `plan_save`, so
-- `:Frugal plan` after a restart (`plan_load`) resumes without paying for finished steps.
local host = require('frugal.host')
local msg = require('frugal.msg')
local util = require('frugal.util')

local M = {}

local val = util.val
local levels = vim.log.levels

local ns = vim.api.nvim_create_namespace('frugal-plan')
local diag_ns = vim.api.nvim_create_namespace('frugal-plan-invalid')
M.ns, M.diag_ns = ns, diag_ns

-- The plan of this editor (one at a time, as the host keeps one per project): {buf, root,
-- goal, task_id, text, steps = {{n, action, path, line, instruction, status, tier, model,
-- cost_usd, tokens, problem, invalid, row}}, running = 'all' | 'one' | nil, busy = the step
-- whose request or proposal is in flight}.
local P = nil
M._plan = function()
  return P
end

local function notify(text, level, short)
  msg.show(text, level or levels.INFO, short)
end

local function opts()
  return require('frugal').editor_options().plan
end

---------------------------------------------------------------------------------------------
-- The text

-- Whether buffer line `line` is a step for the host's parser of an edited plan: anything but a
-- blank line, a "#" comment or a fence.
local function is_step_line(line)
  return not (line:match('^%s*$') or line:match('^%s*#') or line:match('^%s*```'))
end

local function step_line(i, s)
  local where = s.path .. (s.line and (':' .. s.line) or '')
  return string.format('%d. %s %s - %s', i, s.action, where, s.instruction)
end

-- The buffer's lines for `goal` and `steps` (each with action, path and instruction, or `raw`).
local function plan_lines(goal, steps)
  local lines = {}
  if goal and goal ~= '' then
    lines[1] = '# goal: ' .. goal
  end
  for i, s in ipairs(steps) do
    lines[#lines + 1] = s.raw or step_line(i, s)
  end
  return lines
end

local function same_step(a, b)
  return a.action == b.action and a.path == b.path and a.line == b.line
    and a.instruction == b.instruction
end

-- The steps of a plan_validate result, each keeping what `old` knew of the same step (the
-- status of a step left as it was survives an edit around it).
local function merge(result_steps, old)
  local used = {}
  local out = {}
  for _, rs in ipairs(result_steps) do
    local s = {
      n = tonumber(val(rs.n)),
      action = val(rs.action),
      path = val(rs.path),
      line = tonumber(val(rs.line)),
      instruction = val(rs.instruction),
      invalid = val(rs.problem),
      status = 'pending',
    }
    for j, o in ipairs(old or {}) do
      if not used[j] and same_step(o, s) then
        used[j] = true
        s.status, s.tier, s.model, s.cost_usd, s.tokens = o.status, o.tier, o.model,
          o.cost_usd, o.tokens
        s.problem, s.live = o.problem, o.live
        break
      end
    end
    out[#out + 1] = s
  end
  return out
end

---------------------------------------------------------------------------------------------
-- What the buffer shows

local function money(v)
  return v and string.format('$%.4f', v) or nil
end

local function total()
  local sum, applied = 0, 0
  for _, s in ipairs(P.steps) do
    sum = sum + (s.cost_usd or 0)
    if s.status == 'applied' then
      applied = applied + 1
    end
  end
  return sum + (P.planner_cost or 0), applied
end

local function step_note(s)
  if s.invalid then
    return { { '  ✗ ' .. s.invalid, 'ErrorMsg' } }
  end
  local parts = { s.status }
  if s == (P and P.busy) and s.status == 'pending' then
    parts[1] = 'running'
  end
  if s.tier then
    parts[#parts + 1] = s.tier .. (s.model and (' ' .. s.model) or '')
  end
  if s.tokens then
    parts[#parts + 1] = string.format('%d tok', s.tokens)
  end
  parts[#parts + 1] = money(s.cost_usd)
  if s.problem then
    parts[#parts + 1] = s.problem
  end
  local hl = (s.status == 'failed' and 'ErrorMsg') or (s.status == 'skipped' and 'WarningMsg')
    or 'Comment'
  return { { '  ' .. table.concat(parts, ' · '), hl } }
end

-- The rows (0-based) of the step lines of `buf`, in order.
local function step_rows(buf)
  local rows, goal_row = {}, nil
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if is_step_line(line) then
      rows[#rows + 1] = i - 1
    elseif not goal_row and line:match('^%s*#%s*goal:') then
      goal_row = i - 1
    end
  end
  return rows, goal_row
end

local function render()
  if not (P and P.buf and vim.api.nvim_buf_is_valid(P.buf)) then
    return
  end
  local buf = P.buf
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  local rows, goal_row = step_rows(buf)
  local diags = {}
  for i, s in ipairs(P.steps) do
    local row = rows[i]
    s.row = row
    if row then
      pcall(vim.api.nvim_buf_set_extmark, buf, ns, row, 0, { virt_text = step_note(s),
        virt_text_pos = 'eol' })
      if s.invalid then
        diags[#diags + 1] = { lnum = row, col = 0, severity = vim.diagnostic.severity.ERROR,
          message = s.invalid, source = 'frugal' }
      end
    end
  end
  if vim.diagnostic and vim.diagnostic.set then
    pcall(vim.diagnostic.set, diag_ns, buf, diags)
  end
  local sum, applied = total()
  pcall(vim.api.nvim_buf_set_extmark, buf, ns, goal_row or 0, 0, {
    virt_text = { { string.format('  total %s · %d/%d applied', money(sum), applied,
      #P.steps), 'Comment' } },
    virt_text_pos = 'eol',
  })
end
M._render = render

---------------------------------------------------------------------------------------------
-- The store

local saving = nil -- {again = the params of the next save} while plan_save runs

-- Stores the plan's valid steps with their status (plan_save), so a restart resumes it.
local function save()
  if not P or not P.task_id then
    return
  end
  local steps = {}
  for _, s in ipairs(P.steps) do
    if not s.invalid and s.action and s.path and s.instruction then
      steps[#steps + 1] = {
        n = #steps + 1, action = s.action, path = s.path, line = s.line or vim.NIL,
        instruction = s.instruction, status = s.status, tier = s.tier or vim.NIL,
        model = s.model or vim.NIL, cost_usd = s.cost_usd or vim.NIL,
        tokens = s.tokens or vim.NIL, problem = s.problem or vim.NIL,
      }
    end
  end
  local plan = { goal = P.goal or '', task_id = P.task_id, steps = steps,
    planner = P.planner or vim.NIL }
  -- One save at a time (two writes of the same file at once would race); the newest state is
  -- written once the one in flight is done.
  if saving then
    saving.again = { root = P.root, plan = plan }
    return
  end
  local function write(params)
    saving = {}
    host.call('plan_save', params, function(err)
      local again = saving and saving.again
      saving = nil
      if err and not host.is_crash_error(err) then
        notify('frugal: the plan could not be stored: ' .. tostring(err), levels.ERROR)
      end
      if again then
        write(again)
      end
    end)
  end
  write({ root = P.root, plan = plan })
end

local function changed()
  render()
  save()
  vim.cmd('redrawstatus')
end

---------------------------------------------------------------------------------------------
-- The buffer

local function buf_valid()
  return P and P.buf and vim.api.nvim_buf_is_valid(P.buf)
end

local function map_keys(buf)
  local keys = opts().keys
  if not keys then
    return
  end
  local function map(lhs, plug, desc)
    if lhs then
      vim.keymap.set('n', lhs, plug, { buffer = buf, remap = true, silent = true, desc = desc })
    end
  end
  map(keys.next, '<Plug>(frugal-plan-next)', 'frugal: run the next step of the plan')
  map(keys.all, '<Plug>(frugal-plan-all)', 'frugal: run all remaining steps')
  map(keys.step, '<Plug>(frugal-plan-step)', 'frugal: run the step under the cursor')
end

-- The plan buffer, made (or emptied) with `lines` and shown in `win` or a new split.
local function show(lines, win)
  local buf = buf_valid() and P.buf or nil
  if not buf then
    buf = vim.fn.bufnr('frugal://plan')
    if buf < 0 or not vim.api.nvim_buf_is_valid(buf) then
      buf = vim.api.nvim_create_buf(false, true)
      pcall(vim.api.nvim_buf_set_name, buf, 'frugal://plan')
    end
    util.set_buf_option(buf, 'bufhidden', 'hide')
    util.set_buf_option(buf, 'swapfile', false)
    util.set_buf_option(buf, 'filetype', 'frugalplan')
    map_keys(buf)
  end
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  util.set_buf_option(buf, 'modified', false)
  local shown = vim.fn.win_findbuf(buf)[1]
  if not shown then
    if win and vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_set_buf(win, buf)
    else
      vim.cmd('botright ' .. math.min(#lines + 1, 10) .. 'split')
      vim.api.nvim_win_set_buf(0, buf)
    end
  end
  return buf
end

-- Whether `buf` is the plan buffer.
function M.is_plan_buf(buf)
  return P ~= nil and P.buf == buf
end

---------------------------------------------------------------------------------------------
-- Checking the buffer

-- Sends the buffer's text to plan_validate; `cb()` once P.steps is the buffer's steps.
-- The loaded buffers of the project's files, {path = line count}: the host checks a step's
-- LINE against what the editor holds (a step may have added lines not yet written).
local function held_buffers()
  local held, root = {}, P.root .. '/'
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_is_loaded(b) and vim.bo[b].buftype == ''
      and vim.api.nvim_buf_get_name(b) or ''
    if name:sub(1, #root) == root then
      held[name] = vim.api.nvim_buf_line_count(b)
    end
  end
  return next(held) and held or vim.NIL
end

local function validate(cb)
  if not buf_valid() then
    notify('frugal: the plan buffer is gone; :Frugal plan opens the stored plan', levels.WARN)
    return
  end
  local lines = vim.api.nvim_buf_get_lines(P.buf, 0, -1, false)
  local text = table.concat(lines, '\n') .. '\n'
  host.call('plan_validate', { text = text, root = P.root, buffers = held_buffers() },
    function(err, result)
      if err then
        if not host.is_crash_error(err) then
          notify('frugal: the plan cannot be checked: ' .. tostring(err), levels.ERROR)
        end
        return
      end
      result = type(result) == 'table' and result or {}
      P.text = text
      local goal = val(result.goal)
      P.goal = type(goal) == 'string' and goal or P.goal
      P.steps = merge(type(val(result.steps)) == 'table' and result.steps or {}, P.steps)
      render()
      cb()
    end)
end

---------------------------------------------------------------------------------------------
-- Running steps

local run_step -- forward

local function finished(s)
  return s.status == 'applied'
end

-- Marks `s` failed with `why` and the unfinished steps after it skipped; the run stops.
local function fail(s, why)
  s.status, s.problem = 'failed', why
  local after = false
  for _, o in ipairs(P.steps) do
    if after and not finished(o) and not o.invalid then
      o.status, o.problem = 'skipped', string.format('step %d failed', s.n)
    end
    after = after or o == s
  end
  P.running, P.busy = nil, nil
  changed()
  notify(string.format('frugal: plan step %d failed: %s', s.n, why), levels.ERROR,
    string.format('frugal: plan step %d failed (:Frugal messages)', s.n))
end

local function next_step()
  for _, s in ipairs(P.steps) do
    if not finished(s) then
      return s
    end
  end
  return nil
end

-- Goes on after step `s` was applied: the next step when all run, else a word of what is left.
local function after_applied(s)
  s.problem = nil
  P.busy = nil
  changed()
  local nxt = next_step()
  if not nxt then
    P.running = nil
    local sum = total()
    notify(string.format('frugal: plan done, %d step%s, %s', #P.steps, #P.steps == 1 and '' or 's',
      money(sum)))
    return
  end
  if P.running == 'all' then
    -- Checked again: the buffer may have been edited while the proposal waited.
    vim.schedule(function()
      if P and P.running == 'all' then
        validate(function()
          local s2 = next_step()
          if s2 and P.running == 'all' then
            run_step(s2)
          end
        end)
      end
    end)
  else
    P.running = nil
  end
end

local function record_figures(s, run, result)
  s.tier = type(val(result.tier)) == 'string' and result.tier or run.tier or s.tier
  s.model = type(val(result.model)) == 'string' and result.model or run.model or s.model
  local cost = tonumber(val(result.cost_usd))
  local first = val(result.escalated)
  if type(first) == 'table' and cost then
    cost = cost + (tonumber(val(first.cost_usd)) or 0)
  end
  s.cost_usd = (cost or 0) + (s.cost_usd or 0)
  local usage = val(result.usage)
  if type(usage) == 'table' then
    s.tokens = (s.tokens or 0) + (tonumber(val(usage.input_tokens)) or 0)
      + (tonumber(val(usage.output_tokens)) or 0)
  end
end

-- The LINE of the later steps in the file step `s` just changed (its lines `before`, now
-- `after`): a line below the changed lines moves by the lines added or removed, in the step and
-- in the buffer's text, so that it still names the same code.
local function follow_lines(s, before, after)
  local delta = #after - #before
  if delta == 0 or not buf_valid() then
    return
  end
  local pre = 0
  while pre < #before and pre < #after and before[pre + 1] == after[pre + 1] do
    pre = pre + 1
  end
  local suf = 0
  while suf < #before - pre and suf < #after - pre
    and before[#before - suf] == after[#after - suf] do
    suf = suf + 1
  end
  local region_end = #before - suf -- the last line (1-based) of the changed region, as it was
  local later = false
  for _, o in ipairs(P.steps) do
    if later and o.path == s.path and o.line and o.line > region_end and o.row
      and not finished(o) then
      local text = vim.api.nvim_buf_get_lines(P.buf, o.row, o.row + 1, false)[1] or ''
      local from = o.path .. ':' .. o.line
      local at = text:find(from, 1, true)
      if at then
        local moved = o.line + delta
        text = text:sub(1, at - 1) .. o.path .. ':' .. moved .. text:sub(at + #from)
        vim.api.nvim_buf_set_lines(P.buf, o.row, o.row + 1, false, { text })
        o.line = moved
      end
    end
    later = later or o == s
  end
  P.text = table.concat(vim.api.nvim_buf_get_lines(P.buf, 0, -1, false), '\n') .. '\n'
end

-- How the run of step `s` ended (run.lua calls it once the answer has been handled).
local function step_done(s, run, err, result)
  if P == nil or not vim.tbl_contains(P.steps, s) then
    return -- the plan was replaced meanwhile
  end
  if err then
    P.busy = nil
    if err == 'cancelled' then
      s.problem, P.running = 'cancelled', nil
      changed()
      return
    end
    fail(s, tostring(err))
    return
  end
  record_figures(s, run, result)
  local problem = val(result.problem)
  if type(problem) == 'string' and problem ~= '' then
    fail(s, problem)
    return
  end
  local shown = run.proposal
  if not shown then
    -- An answer to read (explain, review's findings): the step is done.
    s.status = 'applied'
    after_applied(s)
    return
  end
  s.status, s.live = 'proposed', shown
  local accept, reject = shown.on_accept, shown.on_reject
  shown.on_accept = function(edited)
    local before = vim.api.nvim_buf_is_valid(run.bufnr)
      and vim.api.nvim_buf_get_lines(run.bufnr, 0, -1, false)
    local ok = accept and accept(edited)
    if ok and s.live == shown then
      s.status, s.live = 'applied', nil
      if before and vim.api.nvim_buf_is_valid(run.bufnr) then
        follow_lines(s, before, vim.api.nvim_buf_get_lines(run.bufnr, 0, -1, false))
      end
      after_applied(s)
    end
    return ok
  end
  shown.on_reject = function()
    if reject then
      reject()
    end
    if s.live == shown then
      s.status, s.live, s.problem = 'pending', nil, 'rejected'
      P.running, P.busy = nil, nil
      changed()
    end
  end
  changed()
  if opts().auto_accept then
    vim.schedule(function()
      require('frugal.proposal').accept(shown)
      if not shown.decided and s.live == shown then
        fail(s, 'its answer cannot be applied')
      end
    end)
  end
end

-- The buffer of the step's file, loaded (never written); nil and why when it cannot be.
local function step_buffer(s)
  local path = s.path
  if path:sub(1, 1) ~= '/' then
    path = P.root .. '/' .. path
  end
  path = vim.fn.fnamemodify(path, ':p')
  local bufnr = vim.fn.bufadd(path)
  local ok, err = pcall(vim.fn.bufload, bufnr)
  if not ok then
    return nil, string.format('%s cannot be loaded: %s', s.path, tostring(err))
  end
  util.set_buf_option(bufnr, 'buflisted', true)
  return bufnr, path
end

-- The plan's text to send for step `s`. A LINE past the end of the file on disk (the host
-- would refuse it) is left out: the host then finds the function the instruction names.

run_step = function(s)
  if s.invalid then
    P.running = nil
    notify(string.format('frugal: plan step %d cannot run: %s', s.n, s.invalid), levels.ERROR,
      string.format('frugal: plan step %d cannot run (:Frugal messages)', s.n))
    return
  end
  if s.live and not s.live.closed then
    P.running = nil
    notify(string.format('frugal: plan step %d waits for its proposal (a accepts it)', s.n),
      levels.WARN)
    return
  end
  local bufnr, path = step_buffer(s)
  if not bufnr then
    fail(s, path)
    return
  end
  s.problem = nil
  local req = { action = s.action, send = true, plan_step = s.n }
  req.on_done = function(run, err, result)
    step_done(s, run, err, result)
  end
  local params = {
    bufnr = bufnr,
    path = path,
    filetype = util.buf_option(bufnr, 'filetype'),
    plan = { text = P.text, n = s.n, goal = P.goal, task_id = P.task_id, root = P.root },
  }
  local run = require('frugal.run').start(req, params, require('frugal').editor_options())
  if not run then
    P.running = nil
    return
  end
  P.busy = s
  render()
  vim.cmd('redrawstatus')
end

-- Validates the buffer, then runs what `mode` says: 'next' (the first unfinished step), 'all'
-- (every unfinished step in order, each once the one before is applied) or 'step' (the step
-- on cursor row `row`, 0-based).
local function start(mode, row)
  if not P then
    notify('frugal: no plan here; :Frugal plan GOAL makes one, :Frugal plan resumes one',
      levels.WARN)
    return
  end
  local live = P.busy and P.busy.live
  if live and live.closed and not live.decided then
    -- Its proposal went away undecided (its window wiped): the step can run again.
    P.busy.status, P.busy.live, P.busy = 'pending', nil, nil
  end
  if P.busy then
    notify(string.format('frugal: plan step %d is running or waits for its proposal',
      P.busy.n), levels.WARN)
    return
  end
  validate(function()
    local s
    if mode == 'step' then
      for _, o in ipairs(P.steps) do
        if o.row == row then
          s = o
        end
      end
      if not s then
        notify('frugal: the cursor is not on a step of the plan', levels.WARN)
        return
      end
      if finished(s) then
        notify(string.format('frugal: plan step %d is applied already', s.n))
        return
      end
    else
      s = next_step()
      if not s then
        notify('frugal: every step of the plan is applied')
        return
      end
    end
    P.running = mode == 'all' and 'all' or 'one'
    run_step(s)
  end)
end

local function cursor_row()
  if buf_valid() and vim.api.nvim_get_current_buf() == P.buf then
    return vim.api.nvim_win_get_cursor(0)[1] - 1
  end
  return nil
end

-- <Plug>(frugal-plan-next): the first step not applied yet.
function M.run_next()
  start('next')
end

-- <Plug>(frugal-plan-all): every remaining step, in order.
function M.run_all()
  start('all')
end

-- <Plug>(frugal-plan-step): the step under the cursor.
function M.run_cursor()
  start('step', cursor_row())
end

---------------------------------------------------------------------------------------------
-- Making and resuming a plan

-- Opens the plan of the planner's answer `result` (the run `run` of action plan).
local function planned(run, err, result)
  if err then
    return -- run.lua has said why
  end
  local text = val(result.text)
  local ledger = val(result.ledger)
  local task_id = type(ledger) == 'table' and val(ledger.task_id) or nil
  if type(text) ~= 'string' or text == '' then
    notify('frugal: the planner sent no plan', levels.ERROR)
    return
  end
  local root = host.cwd()
  host.call('plan_validate', { text = text, root = root, answer = true }, function(verr, res)
    if verr then
      if not host.is_crash_error(verr) then
        notify('frugal: the plan cannot be read: ' .. tostring(verr), levels.ERROR)
      end
      return
    end
    res = type(res) == 'table' and res or {}
    local steps = merge(type(val(res.steps)) == 'table' and res.steps or {}, nil)
    -- A step the parser could not read is shown as the planner wrote it.
    local raw = {}
    for _, line in ipairs(vim.split(text, '\n', { plain = true })) do
      if line:match('^%s*%d') then
        raw[#raw + 1] = line
      end
    end
    for i, s in ipairs(steps) do
      if not (s.action and s.path and s.instruction) then
        s.raw = raw[i] or ('?. ' .. (s.invalid or ''))
      end
    end
    local goal = val(res.goal)
    goal = type(goal) == 'string' and goal or run.req.instruction
    local win = run.stream and run.stream:window()
    P = { root = root, goal = goal, task_id = task_id, steps = steps,
      planner_cost = tonumber(val(result.cost_usd)) }
    -- What the plan call was, kept with the plan (the command line shows it on a resume).
    P.planner = { action = 'plan', text = text, tier = val(result.tier) or run.tier,
      model = val(result.model) or run.model, cost_usd = P.planner_cost }
    P.buf = show(plan_lines(goal, steps), win)
    for _, s in ipairs(steps) do
      s.raw = nil
    end
    P.text = table.concat(vim.api.nvim_buf_get_lines(P.buf, 0, -1, false), '\n') .. '\n'
    changed()
    local key = opts().keys and opts().keys.next
    notify(string.format('frugal: plan of %d step%s; edit it, %s runs the next step', #steps,
      #steps == 1 and '' or 's',
      key and require('frugal.proposal')._typed(key) or '<Plug>(frugal-plan-next)'))
  end)
end

-- :Frugal plan GOAL: the planner's request (`req` with action plan) for the current window.
function M.make(req, line1, line2)
  req.on_done = planned
  local frugal = require('frugal')
  frugal.build_params(req, line1, line2, function(err, params, kept)
    if err then
      util.notify(err, levels.ERROR)
      return
    end
    require('frugal.run').start(req, params, frugal.editor_options(), kept)
  end)
end

-- :Frugal plan (or :Frugal plan resume): opens the project's stored plan (plan_load) with each
-- step's status; running it then skips the steps applied already.
function M.resume()
  if P and buf_valid() then
    local win = vim.fn.win_findbuf(P.buf)[1]
    if win then
      vim.api.nvim_set_current_win(win)
    else
      vim.cmd('botright 10split')
      vim.api.nvim_win_set_buf(0, P.buf)
    end
    return
  end
  local root = host.cwd()
  host.call('plan_load', { root = root }, function(err, result)
    if err then
      if not host.is_crash_error(err) then
        notify('frugal: the stored plan cannot be read: ' .. tostring(err), levels.ERROR)
      end
      return
    end
    local plan = type(result) == 'table' and val(result.plan)
    if type(plan) ~= 'table' then
      notify('frugal: no stored plan for this project; :Frugal plan GOAL makes one')
      return
    end
    local stored = {}
    for _, s in ipairs(type(val(plan.steps)) == 'table' and plan.steps or {}) do
      stored[#stored + 1] = {
        action = val(s.action), path = val(s.path), line = tonumber(val(s.line)),
        instruction = val(s.instruction), status = val(s.status) or 'pending',
        tier = val(s.tier), model = val(s.model), cost_usd = tonumber(val(s.cost_usd)),
        tokens = tonumber(val(s.tokens)), problem = val(s.problem),
      }
      if stored[#stored].status == 'proposed' then
        -- Its proposal went with the editor: the step runs again.
        stored[#stored].status = 'pending'
      end
    end
    local goal = val(plan.goal)
    local planner = val(plan.planner)
    P = { root = root, goal = type(goal) == 'string' and goal or nil,
      task_id = val(plan.task_id), steps = stored,
      planner = type(planner) == 'table' and planner or nil,
      planner_cost = type(planner) == 'table' and tonumber(val(planner.cost_usd)) or nil }
    P.buf = show(plan_lines(P.goal, stored))
    validate(function()
      local _, applied = total()
      notify(string.format('frugal: plan resumed, %d of %d steps applied', applied, #P.steps))
    end)
  end)
end

-- For the statusline: "plan 2/5" while a plan has steps left (the step that runs counted
-- among the done ones only once applied), "" otherwise.
function M.status()
  if not P or #P.steps == 0 then
    return ''
  end
  local _, applied = total()
  if applied == #P.steps then
    return ''
  end
  return string.format('plan %d/%d', applied, #P.steps)
end

return M
