-- What a run's answer becomes, per the action's output: markdown to read (the answer window),
-- an edit proposal (a diff with accept/reject, applied only to its region), findings in the
-- quickfix list, or a test file. Each handler tells the user in one short line; the figures
-- (tier, model, tokens, cost, turn) go to the answer window's header and to :Frugal messages.
local msg = require('frugal.msg')
local multifile = require('frugal.run.multifile')
local progress = require('frugal.run.progress')
local proposal = require('frugal.proposal')
local region = require('frugal.run.region')
local runstate = require('frugal.run.state')
local util = require('frugal.util')

local M = {}

local val = util.val
local levels = vim.log.levels
local state = runstate.state

local function notify(text, level, short)
  msg.show(text, level, short)
end

function M.rel(path)
  if type(path) ~= 'string' or path == '' then
    return '[No Name]'
  end
  return vim.fn.fnamemodify(path, ':~:.')
end
local rel = M.rel

-- The figures of a result: usage and cost, the first attempt's added when it was escalated.
local function figures(result)
  local usage = val(result.usage)
  local u = type(usage) == 'table' and {
    input = tonumber(val(usage.input_tokens)),
    cached = tonumber(val(usage.cached_input_tokens)) or 0,
    output = tonumber(val(usage.output_tokens)),
    estimated = val(usage.estimated) == true,
  } or nil
  local cost = tonumber(val(result.cost_usd))
  local first = val(result.escalated)
  if type(first) == 'table' then
    local fu = val(first.usage)
    if u and type(fu) == 'table' then
      u.input = (u.input or 0) + (tonumber(val(fu.input_tokens)) or 0)
      u.cached = u.cached + (tonumber(val(fu.cached_input_tokens)) or 0)
      u.output = (u.output or 0) + (tonumber(val(fu.output_tokens)) or 0)
      u.estimated = u.estimated or val(fu.estimated) == true
    end
    local fc = tonumber(val(first.cost_usd))
    if cost and fc then
      cost = cost + fc
    end
  end
  return u, cost, type(first) == 'table'
end

local function turn_text(result, tier)
  -- A conversation on mini ends after max_turns (conversation.max_turns); full has no limit.
  local turn, max_turns = tonumber(val(result.turn)), tonumber(val(result.max_turns))
  if turn and tier == 'mini' and max_turns then
    return string.format('turn %d of %d', turn, max_turns)
  elseif turn and turn > 1 then
    return string.format('turn %d', turn)
  end
  return nil
end

-- "frugal: explain done in 1.2s, on mini gpt-5.4-mini, 2,345 in (1,024 cached) + 321 out
-- tokens, $0.0025, turn 1 of 10": everything, for the header and :Frugal messages.
function M.summary(run, result)
  local parts = { string.format('frugal: %s%s done in %.1fs', run.action,
    run.again and ' again' or '', progress.elapsed(run)) }
  local model = val(result.model) or run.model
  local tier = val(result.tier) or run.tier
  if model then
    parts[#parts + 1] = string.format('on %s %s', tier or '?', model)
  end
  local u, cost, escalated = figures(result)
  if u then
    parts[#parts + 1] = string.format('%s in%s + %s out tokens%s', util.thousands(u.input),
      u.cached > 0 and (' (' .. util.thousands(u.cached) .. ' cached)') or '',
      util.thousands(u.output), u.estimated and ' (estimated)' or '')
  end
  if cost then
    parts[#parts + 1] = string.format('$%.4f%s', cost, escalated and ' (both attempts)' or '')
  end
  parts[#parts + 1] = turn_text(result, tier)
  return table.concat(parts, ', ')
end

-- The same, short enough for the message line: "frugal: explain done, mini $0.0025".
function M.short(run, result, tail)
  local tier = val(result.tier) or run.tier
  local _, cost, escalated = figures(result)
  local s = string.format('frugal: %s%s done, %s%s', run.action, run.again and ' again' or '',
    escalated and 'mini+full' or (tier or '?'),
    cost and string.format(' $%.4f', cost) or '')
  if tail then
    s = s .. '; ' .. tail
  end
  -- Last, so that it is what a narrow screen cuts.
  local turn, max_turns = tonumber(val(result.turn)), tonumber(val(result.max_turns))
  if turn and tier == 'mini' and max_turns then
    s = s .. string.format(' (turn %d/%d)', turn, max_turns)
  end
  return s
end

-- The answer window's header once the run is done: "explain · mini gpt-5.4-mini · 2,345 in +
-- 321 out · $0.0025 · turn 1/10", the most telling first (a narrow window cuts the end).
function M.header(run, result)
  local tier = val(result.tier) or run.tier
  local u, cost, escalated = figures(result)
  local parts = { run.action .. (run.again and ' again' or '') }
  parts[#parts + 1] = string.format('%s %s', escalated and 'mini+full' or (tier or '?'),
    val(result.model) or run.model or '')
  if cost then
    parts[#parts + 1] = string.format('$%.4f', cost)
  end
  if u then
    parts[#parts + 1] = string.format('%s in + %s out', util.thousands(u.input),
      util.thousands(u.output))
  end
  local turn, max_turns = tonumber(val(result.turn)), tonumber(val(result.max_turns))
  if turn and tier == 'mini' and max_turns then
    parts[#parts + 1] = string.format('turn %d/%d', turn, max_turns)
  elseif turn and turn > 1 then
    parts[#parts + 1] = string.format('turn %d', turn)
  end
  local chunks = tonumber(val(result.chunks))
  if chunks and chunks > 1 then
    parts[#parts + 1] = string.format('%d chunks', chunks)
  end
  parts[#parts + 1] = string.format('%.1fs', progress.elapsed(run))
  return table.concat(parts, ' · ')
end

-- Tells the user the run is done: `tail` says what became of the answer.
local function done(run, result, tail, level)
  local full = M.summary(run, result)
  local win = run.proposal and run.proposal.win or (run.stream and run.stream:window())
  if win then
    progress.set_header(win, M.header(run, result))
  end
  if not run.proposal and run.stream then
    -- The turn's figures under its answer: a conversation shows what each turn cost.
    require('frugal.run')._turn_line(run, '── ' .. M.header(run, result))
  end
  notify(full .. (tail and ('; ' .. tail) or ''), level or levels.INFO, M.short(run, result, tail))
end
M.done = done

function M.show_problem(run, problem)
  local text = run.stream:text()
  local note = (text == '' or text:sub(-1) == '\n') and '' or '\n'
  run.stream:reshow()
  run.stream:append(note .. '\n---\nfrugal: ' .. problem .. ' (nothing to apply)\n')
  progress.set_header(run.stream:window(), string.format('%s · no usable answer: %s',
    run.action, problem))
  notify(string.format('frugal: %s: %s; nothing to apply', run.action, problem), levels.WARN)
end
local show_problem = M.show_problem

-- Applies a replace proposal: one nvim_buf_set_lines over exactly the anchored region (one
-- undo step). Returns true when applied; false (and says why) when refused.
function M.accept_replace(p)
  local s, e = region.anchored(p)
  if not s then
    notify(e, levels.ERROR)
    return false
  end
  local ok, err = pcall(vim.api.nvim_buf_set_lines, p.bufnr, s, e, false, p.after)
  if not ok then
    notify('frugal: could not apply the change: ' .. tostring(err), levels.ERROR)
    return false
  end
  region.delete_marks(p)
  local conv = p.conv
  if conv then
    -- The conversation's region is now the text just written; a follow-up's edit replaces it.
    if conv.region then
      region.delete_marks(conv.region)
    end
    conv.region = { bufnr = p.bufnr, ns = region.region_ns, before = vim.deepcopy(p.after) }
    region.place_marks(conv.region, s, s + #p.after)
  end
  notify(string.format('frugal: %s applied to lines %d-%d (u undoes it)', p.action, s + 1,
    s + math.max(#p.after, 1)), levels.INFO)
  return true
end

-- Starts holding the region of `run`'s conversation, lines sl..el of the buffer at the request,
-- unless it is held already or cannot be found as it was.
function M.hold_conversation_region(run, sl, el)
  local conv = run.conv
  if not conv or conv.region or run.again or not (sl and el and sl >= 1 and el >= sl - 1) then
    return
  end
  if not (vim.api.nvim_buf_is_valid(run.bufnr) and vim.api.nvim_buf_is_loaded(run.bufnr)) then
    return
  end
  local s, e, touched = region.locate(run, sl, el)
  if touched then
    return
  end
  conv.region = { bufnr = run.bufnr, ns = region.region_ns,
    before = vim.api.nvim_buf_get_lines(run.bufnr, s, e, false) }
  region.place_marks(conv.region, s, e)
end

local function rejected(p, what)
  notify(string.format('frugal: %s rejected; nothing changed', what), levels.INFO)
  return p
end

local function propose_replace(run, result, keys_hint)
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
    local held = run.conv and run.conv.region
    if held then
      s, e = region.anchored(held)
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
    s, e, touched = region.locate(run, sl, el)
    if touched then
      note = region.CHANGED:gsub('^frugal: ', 'NOTE: ') .. '; this cannot be applied'
    end
  end
  p.touched = touched
  if touched then
    p.before = {}
  else
    p.before = vim.api.nvim_buf_get_lines(bufnr, s, e, false)
    region.place_marks(p, s, e)
  end
  local lines = {
    string.format('frugal %s%s: %s, lines %d-%d (%s)', run.action, run.again and ' again' or '',
      rel(run.path), sl, el, val(result.model) or run.model or '?'),
    'a or <CR>: accept   r or q: reject   d: side by side   x: drop the hunk',
  }
  if note then
    lines[#lines + 1] = note
  end
  lines[#lines + 1] = ''
  lines[#lines + 1] = '--- ' .. rel(run.path)
  lines[#lines + 1] = '+++ ' .. rel(run.path) .. ' (proposed)'
  local offset = touched and sl - 1 or s
  local head = vim.deepcopy(lines)
  local diff = proposal.unified(p.before, p.after, offset)
  if #diff == 0 then
    lines[#lines + 1] = '(the answer changes nothing)'
  end
  vim.list_extend(lines, diff)
  local win = run.stream:window()
  local title_fmt = lines[1]:gsub('lines %d+%-%d+', 'lines %%s')
  local shown = proposal.show({
    name = run.action .. '-proposal',
    lines = lines,
    -- The title says where the region is now: edits above it move it.
    title = function()
      local at = region.current_start(p)
      if not at then
        return lines[1]
      end
      return (title_fmt:gsub('%%s', string.format('%d-%d', at, at + math.max(#p.before, 1) - 1)))
    end,
    label = string.format('%s %s:%d', run.action, vim.fn.fnamemodify(run.path or '', ':t'),
      sl),
    opts = run.stream.opts,
    win = win,
    source = bufnr,
    what = run.action .. ' proposal',
    diff = not touched and { head = head, offset = offset } or nil,
    sides = { before = p.before, after = p.after, filetype = run.filetype },
    on_accept = function(edited)
      if edited then
        p.after = edited -- the proposed side as the user edited it
      end
      if M.accept_replace(p) then
        require('frugal.cost').outcome(result, 'applied')
        return true
      end
      return false
    end,
    on_reject = function()
      region.delete_marks(p)
      require('frugal.cost').outcome(result, 'rejected')
      rejected(p, run.action .. ' proposal')
    end,
  })
  runstate.track(run, shown.buf)
  state.last_win = shown.win
  run.proposal = shown
  M._last_proposal = p
  done(run, result, keys_hint(shown))
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
  local win = runstate.source_window(run)
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
    local win = runstate.source_window(run)
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

local function propose_tests(run, result, keys_hint)
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
    label = 'tests ' .. vim.fn.fnamemodify(path, ':t'),
    lines = out,
    opts = run.stream.opts,
    win = run.stream:window(),
    source = run.bufnr,
    what = 'tests',
    on_accept = function()
      local ok
      if exists then
        ok = append_to_file(run, path, lines)
      else
        ok = open_new_file(run, path, lines)
      end
      if ok then
        require('frugal.cost').outcome(result, 'applied')
      end
      return ok
    end,
    on_reject = function()
      require('frugal.cost').outcome(result, 'rejected')
      rejected(nil, 'tests')
    end,
  })
  runstate.track(run, shown.buf)
  state.last_win = shown.win
  run.proposal = shown
  done(run, result, keys_hint(shown))
end

-- Severity words as quickfix types.
local QF_TYPE = { error = 'E', warning = 'W', warn = 'W', info = 'I', note = 'N', hint = 'N',
  suggestion = 'N', nit = 'N' }

-- The result's findings as quickfix items: {path?, line, end_line?, severity?, message} each
-- (the one place that reads `findings`, |frugal-rpc|). Lines of the run's own buffer are
-- mapped through the changes made since the request; other files' lines are taken as they are.
local function quickfix_items(run, result)
  local findings = val(result.findings)
  local items, files = {}, {}
  local name = vim.api.nvim_buf_is_valid(run.bufnr) and vim.api.nvim_buf_get_name(run.bufnr)
    or run.path
  local log = run.again and run.conv and run.conv.root.log or run.log
  for _, f in ipairs(type(findings) == 'table' and findings or {}) do
    f = val(f)
    local line = type(f) == 'table' and tonumber(val(f.line))
    local message = type(f) == 'table' and val(f.message)
    if line and type(message) == 'string' then
      local path = val(f.path)
      if type(path) == 'string' and path ~= '' then
        path = multifile.resolve(path, run, result)
      else
        path = nil
      end
      local own = not path or path == name
      local first = math.max(1, math.floor(line))
      local item = {
        lnum = own and region.map_line(log or {}, first) or first,
        text = '[frugal] ' .. message:gsub('\n', ' '),
      }
      local last = tonumber(val(f.end_line))
      if last and last > first then
        item.end_lnum = own and region.map_line(log or {}, math.floor(last)) or math.floor(last)
      end
      local sev = val(f.severity)
      item.type = type(sev) == 'string' and QF_TYPE[sev:lower()] or nil
      if not own then
        item.filename = path
      elseif name and name ~= '' then
        item.filename = name
      else
        item.bufnr = run.bufnr
      end
      files[item.filename or ''] = true
      items[#items + 1] = item
    end
  end
  return items, vim.tbl_count(files)
end
M._quickfix_items = quickfix_items

local function review(run, result)
  local name = vim.api.nvim_buf_is_valid(run.bufnr) and vim.api.nvim_buf_get_name(run.bufnr)
    or run.path
  local items, nfiles = quickfix_items(run, result)
  local chunks = tonumber(val(result.chunks))
  local pieces = chunks and chunks > 1 and string.format(' (%d chunks)', chunks) or ''
  if #items == 0 then
    done(run, result, 'no findings' .. pieces)
    return
  end
  local title = nfiles > 1 and string.format('%d files', nfiles) or rel(name)
  vim.fn.setqflist({}, ' ', { title = 'frugal ' .. run.action .. ': ' .. title .. pieces,
    items = items })
  local cur = vim.api.nvim_get_current_win()
  vim.cmd('botright copen')
  if vim.api.nvim_win_is_valid(cur) then
    vim.api.nvim_set_current_win(cur)
  end
  done(run, result, string.format('%d finding%s%s in the quickfix list', #items,
    #items == 1 and '' or 's', pieces))
end

-- A change across files: one proposal for all of them (lua/frugal/run/multifile.lua).
local function propose_files(run, result, files, keys_hint)
  local shown, bad = multifile.propose(run, result, files, {
    accepted = function()
      require('frugal.cost').outcome(result, 'applied')
    end,
    rejected = function()
      require('frugal.cost').outcome(result, 'rejected')
      rejected(nil, run.action .. ' proposal')
    end,
  })
  runstate.track(run, shown.buf)
  state.last_win = shown.win
  run.proposal = shown
  if bad then
    done(run, result, bad .. ': cannot be applied', levels.WARN)
  else
    done(run, result, string.format('%d files; %s', #files, keys_hint(shown)))
  end
end

-- Turns the reply of a run that succeeded into what its `output` says. `keys_hint(shown)` says
-- in a few words how to act on a proposal.
function M.handle(run, output, result, keys_hint)
  if output == 'replace' and not run.again then
    -- The region a follow-up's edit will be about: the edit's, or (no usable answer) the
    -- scope's, which is the same region.
    local edit = val(result.edit)
    local scope = type(edit) == 'table' and edit or val(run.scope)
    if type(scope) == 'table' then
      M.hold_conversation_region(run, tonumber(val(scope.start_line)),
        tonumber(val(scope.end_line)))
    end
  end
  local problem = val(result.problem)
  if type(problem) == 'string' and problem ~= '' then
    show_problem(run, problem)
    return
  end
  local files, bad = multifile.read(result)
  if files == false then
    show_problem(run, 'the host sent files without valid edits: ' .. bad)
    return
  elseif files then
    propose_files(run, result, files, keys_hint)
    return
  end
  if output == 'replace' then
    if type(val(result.edit)) ~= 'table' then
      show_problem(run, 'the answer has no edit')
      return
    end
    propose_replace(run, result, keys_hint)
  elseif output == 'review' then
    review(run, result)
  elseif output == 'tests' then
    propose_tests(run, result, keys_hint)
  else
    done(run, result)
  end
end

return M
