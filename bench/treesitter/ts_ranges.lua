-- Run by bench/treesitter/agree.py inside a Debian root with Neovim 0.10 or 0.12:
--   nvim --headless -u NONE -l ts_ranges.lua OUT LANG FILE...
-- For every line of every file, the function the plugin's hint would name for a cursor on the
-- line's first non-blank character (lua/frugal/treesitter.lua, on a tree parsed from the
-- file's text): "path<TAB>line<TAB>first<TAB>last" lines in OUT, and per file
-- "path<TAB>errors<TAB>n" when the tree has syntax errors (ERROR or MISSING nodes).
local here = vim.fn.fnamemodify(arg[0], ':p:h')
package.path = here .. '/lua/?.lua;' .. package.path
local ts_hint = require('frugal.treesitter')
local out = assert(io.open(arg[1], 'w'))
local lang = arg[2]
for i = 3, #arg do
  local path = arg[i]
  local f = assert(io.open(path, 'rb'))
  local text = f:read('*a')
  f:close()
  local parser = vim.treesitter.get_string_parser(text, lang)
  local tree = parser:parse()[1]
  local root = tree:root()
  if root:has_error() then
    local n = 0
    local q = vim.treesitter.query.parse(lang, '(ERROR) @e')
    for _ in q:iter_captures(root, text) do
      n = n + 1
    end
    out:write(string.format('%s\terrors\t%d\n', path, n))
  end
  local row = 0
  for line in (text .. (text:sub(-1) == '\n' and '' or '\n')):gmatch('(.-)\n') do
    local col = (line:find('%S') or 1) - 1
    local first, last = ts_hint.enclosing(root, lang, row, col)
    if first then
      out:write(string.format('%s\t%d\t%d\t%d\n', path, row + 1, first, last))
    end
    row = row + 1
  end
end
out:close()
