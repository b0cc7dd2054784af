-- The preview: what a request would send (each context item with its tokens), which tier and
-- model it would go to and why, and what it would cost, in a scratch window.
local util = require('frugal.util')

local M = {}

local SCOPE_LINES_SHOWN = 8

local val = util.val

local thousands = util.thousands

local function dollars(v)
  v = val(v)
  if type(v) ~= 'number' or v < 0 then
    return 'unknown price'
  end
  return string.format('$%.4f', v)
end
M._dollars = dollars

local function lines_of(a, b)
  a, b = val(a), val(b)
  if type(a) ~= 'number' then
    return '?'
  end
  if type(b) ~= 'number' or b == a then
    return tostring(a)
  end
  return string.format('%d-%d', a, b)
end

local function pad(s, n)
  s = tostring(s)
  if #s >= n then
    return s
  end
  return s .. string.rep(' ', n - #s)
end

local function lpad(s, n)
  s = tostring(s)
  if #s >= n then
    return s
  end
  return string.rep(' ', n - #s) .. s
end

local function str(v, default)
  v = val(v)
  if v == nil then
    return default
  end
  return tostring(v)
end

-- An amount with the precision that keeps a comparison true: $0.083 stays $0.083, $0.0188 is
-- $0.0188, $12.5 is $12.50.
function M.amount(v)
  local s = string.format('%.6f', v):gsub('0+$', '')
  local int, frac = s:match('^(%-?%d+)%.(%d*)$')
  if not int then
    return '$' .. s
  end
  if #frac < 2 then
    frac = frac .. string.rep('0', 2 - #frac)
  end
  return '$' .. int .. '.' .. frac
end

-- Adds `s`, wrapped at `width` columns at spaces; the lines after the first start with `indent`.
local function wrap(add, s, width, indent)
  while vim.fn.strdisplaywidth(s) > width do
    local cut
    for i = width, #indent + 10, -1 do
      if s:sub(i, i) == ' ' then
        cut = i
        break
      end
    end
    if not cut then
      break
    end
    add(s:sub(1, cut - 1))
    s = indent .. s:sub(cut + 1)
  end
  add(s)
end

-- Builds the preview's lines from a `preview` result. `req` holds what was asked (action,
-- tier forced or not, sending or previewing; `budget` = {spent, daily} when known).
function M.render(req, result)
  local width = math.max(40, math.floor(vim.o.columns * 0.9) - 4)
  local out = {}
  local function add(s)
    out[#out + 1] = s
  end
  local route = val(result and result.route) or {}
  local ctx = val(result and result.context) or {}
  local est = val(route.estimate) or {}
  local tier = str(route.tier, '?')
  local model = str(route.model, '?')

  add(string.format('frugal preview: %s', req.action))
  -- What decides first (tier, price, saving), so that it is on screen at 80x24.
  add(string.format('Tier:      %s (%s)%s', tier, model, req.tier and ' [forced]' or ''))
  add(string.format('Estimate:  %s input + %s output tokens', thousands(est.input_tokens),
    thousands(est.output_tokens)))
  local chosen = string.format('  on %s (%s): ', tier, model)
  add(chosen .. dollars(est.usd))
  if tier ~= 'full' then
    add(pad('  on full:', #chosen) .. dollars(est.usd_full))
  end
  local usd, usd_full = val(est.usd), val(est.usd_full)
  if tier ~= 'full' and type(usd) == 'number' and type(usd_full) == 'number' and usd >= 0
    and usd_full > 0 then
    add(string.format('  saving against full: %.0f%%', 100 * (1 - usd / usd_full)))
  end
  local budget = req.budget
  if budget and type(budget.spent) == 'number' then
    local s = string.format('Budget:    $%.4f spent today', budget.spent)
    if type(usd) == 'number' and usd >= 0 then
      s = s .. string.format(', $%.4f with this request', budget.spent + usd)
    end
    if type(budget.daily) == 'number' then
      s = s .. string.format(' (daily budget %s)', M.amount(budget.daily))
      if type(usd) == 'number' and budget.spent + usd > budget.daily then
        s = s .. '; over it: add budget=ignore to send'
      end
    end
    wrap(add, s, width, '           ')
  end
  local tests = val(ctx.tests)
  if req.action == 'tests' and type(tests) == 'table' and type(val(tests.path)) == 'string' then
    local framework = val(tests.framework)
    wrap(add, string.format('Tests go:  %s %s%s', val(tests.exists) == true and 'at the end of'
      or 'into the new file', vim.fn.fnamemodify(tests.path, ':~:.'),
      type(framework) == 'string' and (' (' .. framework .. ')') or ''), width, '           ')
  end
  local reasons = val(route.reasons) or {}
  if #reasons > 0 then
    add('Reasons:')
    for _, r in ipairs(reasons) do
      wrap(add, '  - ' .. tostring(val(r) or ''), width, '    ')
    end
  end
  add('')

  local scope = val(ctx.scope) or {}
  local file = str(ctx.file, req.path or '')
  if file == '' then
    file = '[No Name]'
  end
  local language = str(ctx.language, '?')
  local scope_name = val(scope.name)
  local span = lines_of(scope.start_line, scope.end_line)
  if val(scope.kind) == 'lines' then
    add(string.format('Scope:     lines %s around the cursor', span))
  else
    add(string.format('Scope:     %s%s, lines %s', str(scope.kind, '?'),
      scope_name and (' ' .. tostring(scope_name)) or '', span))
  end
  add(string.format('File:      %s (%s)', file, language))
  if req.instruction and req.instruction ~= '' then
    add('Request:   ' .. req.instruction)
  end

  add('')
  local items = val(ctx.items) or {}
  add(string.format('Context (%d item%s):', #items, #items == 1 and '' or 's'))
  local rows = { { 'kind', 'label', 'lines', 'tokens' } }
  for _, it in ipairs(items) do
    it = val(it) or {}
    rows[#rows + 1] = {
      str(it.kind, '?'),
      str(it.label, ''),
      lines_of(it.start_line, it.end_line),
      thousands(it.tokens),
    }
  end
  local w = { 0, 0, 0, 0 }
  for _, row in ipairs(rows) do
    for i = 1, 4 do
      w[i] = math.max(w[i], #row[i])
    end
  end
  w[2] = math.min(w[2], 40)
  for _, row in ipairs(rows) do
    add('  ' .. pad(row[1], w[1]) .. '  ' .. pad(row[2], w[2]) .. '  ' .. pad(row[3], w[3])
      .. '  ' .. lpad(row[4], w[4]))
  end

  add('')
  local tokens, file_tokens = val(ctx.tokens), val(ctx.file_tokens)
  -- A package with other files or the repo map is not a share of this file.
  local others = false
  for _, it in ipairs(type(val(ctx.items)) == 'table' and ctx.items or {}) do
    others = others or val(it.kind) == 'file' or val(it.kind) == 'repo_map'
  end
  if others then
    add(string.format('Package:   %s tokens, with the files in scope; this file whole: %s tokens',
      thousands(tokens), thousands(file_tokens)))
  else
    local share = ''
    if type(tokens) == 'number' and type(file_tokens) == 'number' and file_tokens > 0 then
      share = string.format(' (%.1f%% of the file)', 100 * tokens / file_tokens)
    end
    add(string.format('Package:   %s tokens; whole file: %s tokens%s', thousands(tokens),
      thousands(file_tokens), share))
  end
  local dropped = val(ctx.dropped)
  if type(dropped) == 'number' and dropped > 0 then
    add(string.format('           %d optional item%s left out to stay within the budget', dropped,
      dropped == 1 and '' or 's'))
  end
  local over = val(ctx.over_budget)
  if over == true or over == 1 then
    add('           the scope alone is over the budget; it is still sent whole')
  end


  local first = val(items[1])
  local text = first and val(first.text)
  if type(text) == 'string' and text ~= '' then
    add('')
    add('Scope text:')
    local n = 0
    for line in (text .. '\n'):gmatch('(.-)\r?\n') do
      n = n + 1
      if n > SCOPE_LINES_SHOWN then
        add('  | ...')
        break
      end
      add('  | ' .. line)
    end
  end
  add('')
  add('q: close')
  return out
end

local current = { win = nil, buf = nil }
M._current = current

function M.is_preview_buf(buf)
  return current.buf ~= nil and buf == current.buf
end

function M.close()
  if current.win and vim.api.nvim_win_is_valid(current.win) then
    vim.api.nvim_win_close(current.win, true)
  end
  current.win, current.buf = nil, nil
end

-- Opens a scratch window showing `lines` ('buftype' nofile, 'bufhidden' wipe, not modifiable,
-- `q` closes it) with 'filetype' `filetype`, in a centred float or a split at the bottom as
-- `opts` (editor.preview: style, border) says. The focus moves to it. Returns window and buffer.
function M.open_window(lines, opts, filetype)
  opts = opts or {}
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  util.set_buf_option(buf, 'buftype', 'nofile')
  util.set_buf_option(buf, 'bufhidden', 'wipe')
  util.set_buf_option(buf, 'swapfile', false)
  util.set_buf_option(buf, 'modifiable', false)
  util.set_buf_option(buf, 'filetype', filetype)
  vim.api.nvim_buf_set_keymap(buf, 'n', 'q', '<Cmd>close<CR>',
    { noremap = true, silent = true, nowait = true })

  local win
  if opts.style == 'split' then
    vim.cmd('botright ' .. math.max(1, math.min(#lines, math.floor(vim.o.lines / 2))) .. 'split')
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
  else
    local width = 0
    for _, l in ipairs(lines) do
      width = math.max(width, vim.fn.strdisplaywidth(l))
    end
    local max_w = math.max(20, math.floor(vim.o.columns * 0.9) - 2)
    local max_h = math.max(5, math.floor((vim.o.lines - vim.o.cmdheight) * 0.8) - 2)
    width = math.min(math.max(width + 1, 40), max_w)
    local height = math.max(1, math.min(#lines, max_h))
    win = vim.api.nvim_open_win(buf, true, {
      relative = 'editor',
      width = width,
      height = height,
      row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
      col = math.max(0, math.floor((vim.o.columns - width) / 2)),
      style = 'minimal',
      border = opts.border or 'rounded',
    })
  end
  util.set_win_option(win, 'wrap', false)
  util.set_win_option(win, 'cursorline', false)
  return win, buf
end

-- Shows `lines` in the preview window, replacing any previous preview. `opts` is the
-- editor.preview table (style, border). Returns the window and buffer.
function M.show(lines, opts)
  M.close()
  local win, buf = M.open_window(lines, opts, 'frugal-preview')
  current.win, current.buf = win, buf
  return win, buf
end

return M
