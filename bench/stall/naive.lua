-- The baseline: a streaming client in pure Lua written the way many plugins write one. curl
-- runs as a job; on_stdout splits its output into SSE lines, decodes each `data:` line of the
-- Chat Completions stream and appends the delta at once: read the buffer's last line, add the
-- delta, split at newlines and write the lines back with nvim_buf_set_lines, then move the
-- window's cursor to the end. One buffer change per SSE event, no batching.
--
-- It is correct (partial lines across on_stdout chunks are joined, so no text is lost): only
-- its cost is naive. Loaded with dofile(); returns the module.
local M = {}

-- Counters of the last start(), for the benchmark's report: bytes curl's output carried (as
-- on_stdout handed them over) and `data:` lines that did not decode as JSON.
M.stats = { bytes = 0, bad_lines = 0, first_bad = nil }

local counter = 0
local last_win = nil

local decode = (vim.json and vim.json.decode) or vim.fn.json_decode

local function show(buf)
  if last_win and vim.api.nvim_win_is_valid(last_win) then
    vim.api.nvim_win_set_buf(last_win, buf)
    return last_win
  end
  local cur = vim.api.nvim_get_current_win()
  vim.cmd('botright vertical sbuffer ' .. buf)
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_width(win, math.max(30, math.floor(vim.o.columns * 0.42)))
  vim.api.nvim_win_set_option(win, 'wrap', true)
  vim.api.nvim_win_set_option(win, 'linebreak', true)
  vim.api.nvim_set_current_win(cur)
  last_win = win
  return win
end

-- Streams a chat completion from opts.url (the base URL with /v1) into a new buffer named
-- `naive://N` shown at the right. opts: url, model, prompt, on_exit(code) (optional).
-- Returns the buffer.
function M.start(opts)
  counter = counter + 1
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, 'naive://' .. counter)
  vim.api.nvim_buf_set_option(buf, 'filetype', 'markdown')
  local win = show(buf)

  local function append(delta)
    local n = vim.api.nvim_buf_line_count(buf)
    local last = vim.api.nvim_buf_get_lines(buf, n - 1, n, false)[1] or ''
    local lines = vim.split(last .. delta, '\n', { plain = true })
    vim.api.nvim_buf_set_lines(buf, n - 1, n, false, lines)
    if vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_buf(win) == buf then
      vim.api.nvim_win_set_cursor(win, { n + #lines - 1, 0 })
    end
  end

  local function on_line(line)
    if line:sub(1, 6) ~= 'data: ' then
      return
    end
    local payload = line:sub(7)
    if payload == '[DONE]' then
      return
    end
    local ok, obj = pcall(decode, payload)
    if not ok or type(obj) ~= 'table' or type(obj.choices) ~= 'table' then
      M.stats.bad_lines = M.stats.bad_lines + 1
      M.stats.first_bad = M.stats.first_bad or line
      return
    end
    local choice = obj.choices[1]
    local delta = type(choice) == 'table' and choice.delta
    local content = type(delta) == 'table' and delta.content
    if type(content) == 'string' and content ~= '' then
      append(content)
    end
  end

  M.stats = { bytes = 0, bad_lines = 0, first_bad = nil }
  local partial = ''
  local body = vim.fn.json_encode({
    model = opts.model or 'gpt-5.4-mini',
    stream = true,
    messages = { { role = 'user', content = opts.prompt or 'Explain this code.' } },
  })
  vim.fn.jobstart({
    'curl', '-sN', '--data-binary', body,
    '-H', 'Content-Type: application/json',
    '-H', 'Authorization: Bearer sk-naive',
    opts.url .. '/chat/completions',
  }, {
    on_stdout = function(_, data)
      -- data: the chunk split at newlines; the first item continues the previous chunk's last
      -- (unfinished) line, the last item is unfinished.
      for i, l in ipairs(data) do
        M.stats.bytes = M.stats.bytes + #l + (i > 1 and 1 or 0)
      end
      data[1] = partial .. data[1]
      partial = data[#data]
      for i = 1, #data - 1 do
        on_line(data[i])
      end
    end,
    on_exit = function(_, code)
      if partial ~= '' then
        on_line(partial)
        partial = ''
      end
      if opts.on_exit then
        opts.on_exit(code)
      end
    end,
  })
  return buf
end

return M
