-- frugal.nvim: which model should do this job, with what context, and what would it cost.
-- See |frugal.txt|. This module holds setup() and the :Frugal command; the work is done by the
-- native host (lua/frugal/host.lua), previews are shown by lua/frugal/preview.lua and runs
-- (streamed answers, proposals) handled by lua/frugal/run.lua.
local config = require('frugal.config')
local host = require('frugal.host')
local util = require('frugal.util')

local M = {}

-- The host's version when the catalogue was generated (checked by :checkhealth frugal).
M.version = require('frugal.catalogue').version

M.actions = config.actions

local state = {
  opts = nil, -- the table given to setup(), validated
  editor = config.editor(nil),
  latest = 0, -- sequence number of the newest preview request; older answers are dropped
}
M._state = state

-- Validates `opts` (see |frugal-config|) and applies it. Returns true, or false and the error
-- naming the wrong key (also shown in one line; nothing of `opts` is applied then). Never
-- raises, so a typo in the configuration does not stop the rest of init.lua.
-- Optional: without it the plugin uses the host's defaults.
function M.setup(opts)
  local ok, err = pcall(config.validate, opts)
  if not ok then
    err = tostring(err)
    util.notify(err .. ' (:checkhealth frugal)', vim.log.levels.ERROR)
    state.setup_error = err
    return false, err
  end
  state.setup_error = nil
  opts = opts and util.deepcopy(opts) or nil
  state.opts = opts
  state.editor = config.editor(opts)
  require('frugal.proposal').source_keys = state.editor.proposal_keys
  host.set_command(state.editor.host_cmd)
  host.configure(config.to_json(opts))
  return true
end

-- The error of the last setup() call, or nil when it succeeded (for :checkhealth).
function M.setup_error()
  return state.setup_error
end

-- The options given to setup() (nil if it was not called).
function M.options()
  return state.opts
end

function M.editor_options()
  return state.editor
end

local severities = { 'error', 'warning', 'info', 'hint' }
local MAX_DIAGNOSTICS = 500

-- The buffer's diagnostics in the host's shape (1-based lines); the host keeps those in range.
local function diagnostics(bufnr)
  if not (vim.diagnostic and vim.diagnostic.get) then
    return {}
  end
  local ok, list = pcall(vim.diagnostic.get, bufnr)
  if not ok or type(list) ~= 'table' then
    return {}
  end
  local out = {}
  for _, d in ipairs(list) do
    if #out >= MAX_DIAGNOSTICS then
      break
    end
    local line = (d.lnum or 0) + 1
    local end_line = (d.end_lnum or d.lnum or 0) + 1
    if end_line < line then
      end_line = line
    end
    out[#out + 1] = {
      line = line,
      end_line = end_line,
      severity = severities[d.severity] or 'error',
      message = tostring(d.message or ''),
      source = d.source and tostring(d.source) or nil,
    }
  end
  return out
end

local function usage()
  return 'frugal: unknown action; :Frugal alone opens the menu, :help frugal-commands'
end

-- For a statusline: "frugal: mini gpt-5.4-mini 3.2s" while a request runs (the latest, "(+1)"
-- when more run; the same in every window); when none runs, today's spend once it is known ("frugal: $0.0421 today"),
-- else "". Never starts the host and costs nothing before the first request.
function M.status(bufnr)
  local run = package.loaded['frugal.run']
  local plan = package.loaded['frugal.plan']
  local steps = plan and plan.status() or ''
  if run then
    local s = run.status()
    if s ~= '' then
      return steps ~= '' and (s .. ' · ' .. steps) or s
    end
  end
  if steps ~= '' then
    return 'frugal: ' .. steps
  end
  if not host.running() and not package.loaded['frugal.cost'] then
    return ''
  end
  return require('frugal.cost').status()
end

-- Reads the options among fargs[i..] into `req` (tier=, budget=ignore and, when `files`,
-- file= and the scope keywords before the first word of the instruction); the other words are
-- returned as the instruction (nil when none). Returns nil and a message on a wrong option.
local function parse_options(fargs, i, req, files)
  local scope = require('frugal.scope')
  local words = {}
  while i <= #fargs do
    local a = fargs[i]
    local tier = a:match('^tier=(.*)$')
    local file = files and a:match('^file=(.*)$')
    local budget = a:match('^budget=(.*)$')
    if files and #words == 0 and scope.is_keyword(a) then
      req.sets = req.sets or {}
      req.sets[a] = true
    elseif file == '' then
      return nil, 'frugal: file= needs a path, e.g. file=src/util.c'
    elseif tier then
      if tier ~= 'mini' and tier ~= 'full' then
        return nil, string.format('frugal: tier=%s: expected tier=mini or tier=full', tier)
      end
      req.tier = tier
    elseif budget then
      if budget ~= 'ignore' then
        return nil, string.format('frugal: budget=%s: the only choice is budget=ignore (send '
          .. 'even past a budget)', budget)
      end
      req.budget_override = true
    elseif file then
      req.files[#req.files + 1] = vim.fn.fnamemodify(file, ':p')
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  if #words > 0 then
    return table.concat(words, ' ')
  end
  return nil
end

-- Parses the words after :Frugal. Returns a request table or nil and a message.
function M.parse_args(fargs, bang)
  local req = { send = true, files = {} }
  local i = 1
  if #fargs == 0 or (#fargs == 1 and fargs[1] == 'preview') then
    return { menu = true, send = fargs[1] ~= 'preview' }
  end
  if fargs[1] == 'messages' then
    return { messages = true }
  end
  if fargs[1] == 'cancel' then
    if #fargs > 1 then
      return nil, 'frugal: `:Frugal cancel` takes no arguments'
    end
    return { cancel = true }
  end
  if fargs[1] == 'restart' then
    if #fargs > 1 then
      return nil, 'frugal: `:Frugal restart` takes no arguments'
    end
    return { restart = true }
  end
  if fargs[1] == 'cost' then
    local cost = require('frugal.cost')
    local period = fargs[2] or cost.DEFAULT_PERIOD
    if #fargs > 2 or not cost.valid_period(period) then
      return nil, string.format('frugal: `:Frugal cost` takes one period: %s (default %s)',
        cost.PERIOD_HELP, cost.DEFAULT_PERIOD)
    end
    return { cost = true, period = period }
  end
  if fargs[1] == 'again' then
    local again = { again = true, files = {} }
    local text, err = parse_options(fargs, 2, again, false)
    if err then
      return nil, err
    end
    if not text then
      return nil, 'frugal: `:Frugal again` needs the follow-up after it, e.g. '
        .. '`:Frugal again use a loop instead`'
    end
    again.instruction = text
    if bang then
      again.tier = 'full'
    end
    return again
  end
  if fargs[i] == 'preview' then
    req.send = false
    i = i + 1
  end
  local action = fargs[i]
  if not action then
    return nil, usage()
  end
  if not vim.tbl_contains(config.actions, action) then
    return nil, string.format('frugal: unknown action %q; :Frugal alone opens the menu', action)
  end
  req.action = action
  local text, err = parse_options(fargs, i + 1, req, true)
  if err then
    return nil, err
  end
  if bang then
    req.tier = 'full'
  end
  req.instruction = text
  if action == 'ask' and not req.instruction then
    return nil, 'frugal: `:Frugal ask` needs the question after it'
  end
  if action == 'plan' and req.send and (not req.instruction or req.instruction == 'resume') then
    -- No goal: the project's stored plan (|frugal-plan-buffer|).
    return { plan_resume = true }
  end
  if action == 'plan' and not req.instruction then
    return nil, 'frugal: `:Frugal plan` needs the goal after it'
  end
  return req
end

-- Builds the params of a preview/context/route call for the current window.
function M.request_params(req, line1, line2)
  local bufnr = vim.api.nvim_get_current_buf()
  local cursor = vim.api.nvim_win_get_cursor(0)
  local params = {
    bufnr = bufnr,
    path = vim.api.nvim_buf_get_name(bufnr),
    filetype = util.buf_option(bufnr, 'filetype'),
    line = cursor[1],
    col = cursor[2] + 1,
    action = req.action,
    instruction = req.instruction,
    tier = req.tier,
    diagnostics = diagnostics(bufnr),
    budget_override = req.budget_override or nil,
  }
  if line1 and line2 then
    params.sel_start = math.min(line1, line2)
    params.sel_end = math.max(line1, line2)
  end
  local ts_hint = require('frugal.treesitter').hint
  params.hint_start, params.hint_end = ts_hint(bufnr, cursor[1], params.col)
  return params
end

-- Builds the params of request `req` for the current window, with the files in its scope
-- (lua/frugal/scope.lua): `cb(err)` or `cb(nil, params, kept)`, where `kept` is what each file
-- in scope was at the request. Never waits: with `changed`, `cb` runs once git has answered.
function M.build_params(req, line1, line2, cb)
  local params = M.request_params(req, line1, line2)
  require('frugal.scope').resolve(req, params.bufnr, function(err, files, kept)
    if err then
      cb(err)
      return
    end
    params.files = files
    cb(nil, params, kept)
  end)
end

-- Runs a parsed request: `:Frugal cancel` cancels, `:Frugal {action}` sends the request to the
-- host and streams the answer (lua/frugal/run.lua), `:Frugal preview` shows the preview.
function M.run(req, line1, line2)
  if req.menu then
    M.menu({ send = req.send, line1 = line1, line2 = line2 })
    return
  end
  if req.messages then
    local lines = require('frugal.msg').history_lines()
    lines[#lines + 1] = ''
    lines[#lines + 1] = 'q: close'
    require('frugal.preview').open_window(lines, state.editor.preview, 'frugal-messages')
    return
  end
  if req.cancel then
    require('frugal.run').cancel_current()
    return
  end
  if req.cost then
    require('frugal.cost').show(req.period, state.editor.preview)
    return
  end
  if req.restart then
    local ok, err = host.restart()
    if not ok then
      util.notify(err, vim.log.levels.ERROR)
    end
    return
  end
  if req.again then
    require('frugal.run').again(req, state.editor)
    return
  end
  if req.plan_resume then
    require('frugal.plan').resume()
    return
  end
  if req.send and req.action == 'plan' then
    require('frugal.plan').make(req, line1, line2)
    return
  end
  M.build_params(req, line1, line2, function(err, params, kept)
    if err then
      util.notify(err, vim.log.levels.ERROR)
      return
    end
    if req.send then
      require('frugal.run').start(req, params, state.editor, kept)
      return
    end
    M.send_preview(req, params)
  end)
end

-- Asks the host for the preview of `req` with `params` and shows it.
function M.send_preview(req, params)
  req.path = params.path
  state.latest = state.latest + 1
  local seq = state.latest
  host.call('preview', params, function(err, result)
    if seq ~= state.latest then
      return -- a newer request has been made since; its answer is the one to show
    end
    if err then
      -- A crash has been reported already, with more detail than the failed call carries.
      if not host.is_crash_error(err) then
        err = tostring(err)
        if err:sub(1, 7) ~= 'frugal:' then
          err = 'frugal: ' .. err
        end
        util.notify(err, vim.log.levels.ERROR)
      end
      return
    end
    -- Today's spend, for the budget line: the ledger's, asked once the preview is known.
    host.call('cost', { period = 'today' }, function(cerr, cost)
      if seq ~= state.latest then
        return
      end
      local report = not cerr and type(cost) == 'table' and util.val(cost.report)
      local spent = type(report) == 'table' and tonumber(util.val(report.cost_usd))
      local budget = state.opts and type(state.opts.budget) == 'table' and state.opts.budget
      req.budget = spent and {
        spent = spent,
        daily = budget and tonumber(util.val(budget.daily_usd)) or nil,
      } or nil
      local lines = require('frugal.preview').render(req, result)
      require('frugal.preview').show(lines, state.editor.preview)
    end)
  end)
end

-- The :Frugal command (see plugin/frugal.lua).
function M.command(opts)
  local req, err = M.parse_args(opts.fargs or {}, opts.bang)
  if not req then
    util.notify(err, vim.log.levels.ERROR)
    return
  end
  if req.cancel or req.cost or req.messages or req.restart or req.plan_resume then
    M.run(req)
    return
  end
  local preview = require('frugal.preview')
  if preview.is_preview_buf(vim.api.nvim_get_current_buf()) then
    -- Run from the preview itself: the request is about the code it was opened from.
    preview.close()
  end
  local runs = package.loaded['frugal.run']
  local source = runs and runs.source_window_of(vim.api.nvim_get_current_buf())
  if source then
    -- Run from an answer or proposal window: the request is about the code it came from.
    vim.api.nvim_set_current_win(source)
    opts = { fargs = opts.fargs, bang = opts.bang }
  end
  local line1, line2
  if (opts.range or 0) > 0 then
    line1, line2 = opts.line1, opts.line2
  else
    -- Called from visual mode through a <Cmd> mapping: no range, but a selection.
    local mode = vim.api.nvim_get_mode().mode
    if mode == 'v' or mode == 'V' or mode == '\22' then
      line1, line2 = vim.fn.line('v'), vim.fn.line('.')
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<Esc>', true, false, true), 'n',
        false)
    end
  end
  M.run(req, line1, line2)
end

-- What each action is for, in the menu.
local ABOUT = {
  explain = 'explain the code', fix = 'fix it (the diagnostics too)', refactor = 'refactor it',
  docs = 'write its documentation', implement = 'implement it', tests = 'write tests for it',
  review = 'review this file', ask = 'ask a question about it', design = 'design a change',
  optimize = 'make it faster', ['refactor-files'] = 'refactor across the files you name',
  ['review-all'] = 'review the files you name', plan = 'plan a change in steps',
}
M._about = ABOUT

-- Actions that need words after them; the menu asks for them.
local NEEDS_TEXT = { ask = 'question: ', plan = 'goal: ' }

-- The lines of the selection when called from visual mode (a <Plug> mapping or the menu's), which
-- it then leaves; nil when not in visual mode.
local function visual_lines()
  local mode = vim.api.nvim_get_mode().mode
  if mode == 'v' or mode == 'V' or mode == '\22' then
    local a, b = vim.fn.line('v'), vim.fn.line('.')
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<Esc>', true, false, true), 'n', false)
    return a, b
  end
  return nil
end

-- Sends (or with spec.send false, previews) `action` for lines spec.line1..spec.line2 or the
-- code at the cursor of window spec.win; asks for the words ask and plan need.
local function launch_action(action, spec)
  local function go(text)
    if spec.win and vim.api.nvim_win_is_valid(spec.win) then
      vim.api.nvim_set_current_win(spec.win)
    end
    local args = {}
    if spec.send == false then
      args[#args + 1] = 'preview'
    end
    args[#args + 1] = action
    for _, w in ipairs(vim.split(text or '', '%s+', { trimempty = true })) do
      args[#args + 1] = w
    end
    local req, err = M.parse_args(args, false)
    if not req then
      util.notify(err, vim.log.levels.ERROR)
      return
    end
    M.run(req, spec.line1, spec.line2)
  end
  if NEEDS_TEXT[action] then
    vim.ui.input({ prompt = NEEDS_TEXT[action] }, function(text)
      if text and text ~= '' then
        go(text)
      end
    end)
  else
    go(nil)
  end
end

-- <Plug>(frugal-{action}): `action` for the selection or the code at the cursor.
function M.action(action, spec)
  spec = spec or {}
  spec.win = vim.api.nvim_get_current_win()
  if not spec.line1 then
    spec.line1, spec.line2 = visual_lines()
  end
  launch_action(action, spec)
end

-- The action menu (vim.ui.select, so a picker plugin can take it over) for the code at the
-- cursor, or lines `spec.line1`..`spec.line2`; `spec.send` false previews instead of sending.
-- Called by `:Frugal` and `:Frugal preview` without an action and by <Plug>(frugal-menu).
function M.menu(spec)
  spec = spec or {}
  spec.win = vim.api.nvim_get_current_win()
  if not spec.line1 then
    spec.line1, spec.line2 = visual_lines()
  end
  vim.ui.select(config.actions, {
    prompt = spec.send ~= false and 'frugal action' or 'frugal preview',
    format_item = function(a)
      return string.format('%-15s %s', a, ABOUT[a] or '')
    end,
  }, function(action)
    if action then
      launch_action(action, spec)
    end
  end)
end

local function filter(list, prefix)
  local out = {}
  for _, v in ipairs(list) do
    if v:sub(1, #prefix) == prefix then
      out[#out + 1] = v
    end
  end
  return out
end

-- Completion for :Frugal: the actions (and `preview`) first, then the options.
function M.complete(arglead, cmdline, cursorpos)
  local before = cmdline:sub(1, cursorpos or #cmdline)
  -- Skip the range and the command name (possibly abbreviated, possibly with a bang).
  local rest = before:match('F%a*!?%s+(.*)$') or ''
  local words = vim.split(rest, '%s+', { trimempty = false })
  -- The word being completed is the last one (possibly empty).
  local done = {}
  for i = 1, #words - 1 do
    if words[i] ~= '' then
      done[#done + 1] = words[i]
    end
  end
  if #done == 0 then
    local first = vim.deepcopy(config.actions)
    for _, word in ipairs({ 'preview', 'again', 'cost', 'cancel', 'messages', 'restart' }) do
      first[#first + 1] = word
    end
    return filter(first, arglead)
  end
  if #done == 1 and done[1] == 'preview' then
    return filter(config.actions, arglead)
  end
  if done[1] == 'cost' then
    return #done == 1 and filter(require('frugal.cost').PERIODS, arglead) or {}
  end
  if done[1] == 'cancel' or done[1] == 'messages' then
    return {}
  end
  if done[1] == 'plan' and #done == 1 and arglead ~= '' and ('resume'):sub(1, #arglead) == arglead
  then
    return { 'resume' }
  end
  if done[1] == 'again' then
    return filter({ 'tier=mini', 'tier=full', 'budget=ignore' }, arglead)
  end
  local path = arglead:match('^file=(.*)$')
  if path then
    local out = {}
    for _, f in ipairs(vim.fn.getcompletion(path, 'file')) do
      out[#out + 1] = 'file=' .. f
    end
    return out
  end
  local opts = { 'tier=mini', 'tier=full', 'file=', 'budget=ignore' }
  local scope = require('frugal.scope')
  local action = done[1] == 'preview' and done[2] or done[1]
  if scope.ACROSS[action] then
    vim.list_extend(opts, scope.KEYWORDS)
  end
  return filter(opts, arglead)
end

return M
