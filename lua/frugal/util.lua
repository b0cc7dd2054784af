-- Small helpers shared by the frugal modules. Everything here works on Neovim 0.7 and later:
-- features that arrived later are detected, never assumed.
local M = {}

M.uv = vim.uv or vim.loop

-- nvim_buf_set_option is deprecated from 0.10 on; nvim_set_option_value exists on 0.7 but only
-- takes {buf = ...} / {win = ...} from 0.8 on.
local has_scoped_options = vim.fn.has('nvim-0.8') == 1

-- Values that the host sends as msgpack nil arrive as vim.NIL inside tables.
function M.is_nil(v)
  return v == nil or v == vim.NIL
end

-- `v`, or nil when it is nil or vim.NIL.
function M.val(v)
  if v == vim.NIL then
    return nil
  end
  return v
end

-- Directory holding lua/, plugin/ and build/, found from this file's own path so the plugin
-- works wherever a plugin manager puts it (and through symlinks on the runtimepath).
function M.plugin_root()
  local src = debug.getinfo(1, 'S').source
  if src:sub(1, 1) == '@' then
    src = src:sub(2)
  end
  -- <root>/lua/frugal/util.lua
  local root = vim.fn.fnamemodify(src, ':p:h:h:h')
  return root
end

-- Every message goes through lua/frugal/msg.lua: one line that fits, never a hit-enter prompt.
function M.notify(msg, level)
  require('frugal.msg').show(msg, level or vim.log.levels.INFO)
end

-- vim.notify may only be called from the main loop; callbacks from libuv must go through this.
function M.notify_later(msg, level)
  vim.schedule(function()
    M.notify(msg, level)
  end)
end

function M.buf_option(buf, name)
  if has_scoped_options then
    return vim.api.nvim_get_option_value(name, { buf = buf })
  end
  return vim.api.nvim_buf_get_option(buf, name)
end

function M.set_buf_option(buf, name, value)
  if has_scoped_options then
    vim.api.nvim_set_option_value(name, value, { buf = buf })
  else
    vim.api.nvim_buf_set_option(buf, name, value)
  end
end

function M.set_win_option(win, name, value)
  if has_scoped_options then
    vim.api.nvim_set_option_value(name, value, { win = win })
  else
    vim.api.nvim_win_set_option(win, name, value)
  end
end

-- A deep copy of plain tables; unlike vim.deepcopy on 0.7 it keeps vim.NIL (userdata) as is.
function M.deepcopy(v)
  if type(v) ~= 'table' then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = M.deepcopy(x)
  end
  return out
end

-- Shallow list copy with `extra` appended.
function M.list_extend(list, extra)
  local out = {}
  for _, v in ipairs(list) do
    out[#out + 1] = v
  end
  for _, v in ipairs(extra or {}) do
    out[#out + 1] = v
  end
  return out
end

function M.is_list(t)
  if type(t) ~= 'table' then
    return false
  end
  local n = 0
  for _ in pairs(t) do
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then
      return false
    end
  end
  return true
end

-- Milliseconds from an arbitrary origin (monotonic).
function M.now_ms()
  return M.uv.hrtime() / 1e6
end

-- Splits `s` at every "\n" (plain, no patterns): "a\nb\n" -> {"a", "b", ""}. Written out instead
-- of vim.split, whose argument validation was seen to fail spuriously on Neovim 0.7.2 under a
-- fast stream of callbacks (bench/stall/README.md), dropping the rest of a chunk.
function M.split_lines(s)
  local out, init = {}, 1
  while true do
    local nl = s:find('\n', init, true)
    if not nl then
      out[#out + 1] = s:sub(init)
      return out
    end
    out[#out + 1] = s:sub(init, nl - 1)
    init = nl + 1
  end
end

-- Unified diff of two texts: vim.text.diff from 0.11 on, vim.diff before (0.6 to 0.10).
function M.text_diff(a, b, opts)
  local diff = (vim.text and vim.text.diff) or vim.diff
  return diff(a, b, opts)
end

-- The lines of `text`; a final "\n" ends the last line rather than starting an empty one, so
-- "a\nb\n" and "a\nb" are both {'a', 'b'}, and "" is {}.
function M.text_lines(text)
  if text == nil or text == '' then
    return {}
  end
  if text:sub(-1) == '\n' then
    text = text:sub(1, -2)
  end
  return vim.split(text, '\n', { plain = true })
end

-- `lines` as one text with every line ending in "\n" ("" for no lines).
function M.lines_text(lines)
  if #lines == 0 then
    return ''
  end
  return table.concat(lines, '\n') .. '\n'
end

-- How many leading bytes of `s` end on a UTF-8 character boundary: a sequence cut at the end
-- (its lead byte announces more continuation bytes than follow) is left out.
function M.utf8_complete_len(s)
  local n = #s
  -- Look back over at most 3 continuation bytes for the lead byte of the last sequence.
  local i = n
  while i > 0 and i > n - 4 do
    local b = s:byte(i)
    if b < 0x80 then
      return n -- ASCII: complete
    end
    if b >= 0xC0 then
      local need = b >= 0xF0 and 4 or (b >= 0xE0 and 3 or 2)
      if n - i + 1 < need then
        return i - 1
      end
      return n
    end
    i = i - 1
  end
  return n
end

-- 12345 -> "12,345"; anything but a number -> "?".
function M.thousands(n)
  n = M.val(n)
  if type(n) ~= 'number' then
    return '?'
  end
  local s = tostring(math.floor(n + 0.5))
  local sign = ''
  if s:sub(1, 1) == '-' then
    sign, s = '-', s:sub(2)
  end
  local out = s:reverse():gsub('(%d%d%d)', '%1,'):reverse()
  if out:sub(1, 1) == ',' then
    out = out:sub(2)
  end
  return sign .. out
end

return M
