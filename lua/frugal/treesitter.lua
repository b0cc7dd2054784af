-- The editor's tree-sitter view of the function at the cursor, sent with a request as a hint
-- (hint_start, hint_end) that the library checks against its own scan; which one wins is in
-- doc/frugal.txt |frugal-treesitter|, how often they agree on real code in
-- bench/treesitter/README.md.
--
-- Only a tree the editor already keeps up to date is read (the buffer's tree-sitter
-- highlighter): parsing here could stall the editor on a large file, so a buffer without
-- tree-sitter highlighting sends no hint. Everything is feature-detected and guarded: on
-- Neovim 0.7, or with a parser that behaves unexpectedly, there is simply no hint.
local M = {}

-- Node types that are a function or method with a name, per tree-sitter language (the parsers
-- Neovim ships and the common ones users install). Anonymous functions are not the unit of
-- focused context, unless a name is bound to them (see is_function).
local FUNCTION_TYPES = {
  c = { function_definition = true },
  cpp = { function_definition = true },
  lua = { function_declaration = true },
  vim = { function_definition = true },
  python = { function_definition = true },
  go = { function_declaration = true, method_declaration = true },
  rust = { function_item = true },
  java = { method_declaration = true, constructor_declaration = true },
  javascript = {
    function_declaration = true,
    generator_function_declaration = true,
    method_definition = true,
  },
}
FUNCTION_TYPES.typescript = FUNCTION_TYPES.javascript
FUNCTION_TYPES.tsx = FUNCTION_TYPES.javascript

-- Parents that give an anonymous function its name: `local f = function`, `M.f = function`
-- (an expression list under an assignment, not under `return`), `{ f = function }` (a field
-- with a name, not a list item) (Lua), `const f = () =>` (JavaScript, TypeScript). true: any
-- grandparent; 'name': the parent has a name.
local NAMING_PARENTS = {
  lua = { expression_list = 'assignment_statement', field = 'name' },
  javascript = { variable_declarator = true },
}
NAMING_PARENTS.typescript = NAMING_PARENTS.javascript
NAMING_PARENTS.tsx = NAMING_PARENTS.javascript
local ANONYMOUS = { function_definition = true, arrow_function = true, ['function'] = true }

-- Whether `node` of a `lang` tree is a function the hint may name.
function M.is_function(lang, node)
  local t = node:type()
  local types = FUNCTION_TYPES[lang]
  if types and types[t] then
    return true
  end
  local naming = NAMING_PARENTS[lang]
  local parent = naming and ANONYMOUS[t] and node:parent()
  local want = parent and naming[parent:type()]
  if want == true then
    return true
  end
  if want == 'name' then
    return #parent:field('name') > 0
  end
  local grand = want and parent:parent()
  return grand ~= nil and grand ~= false and grand:type() == want
end

-- The innermost function holding (row, col) (0-based) in the tree under `root`: its first and
-- last lines, 1-based; nil when there is none.
function M.enclosing(root, lang, row, col)
  local node = root:named_descendant_for_range(row, col, row, col)
  while node do
    if M.is_function(lang, node) then
      local sr, _, er, ec = node:range()
      -- A node ending at column 0 ends with the newline of the line before.
      if ec == 0 and er > sr then
        er = er - 1
      end
      return sr + 1, er + 1
    end
    node = node:parent()
  end
  return nil
end

-- The hint for a cursor at `line` (1-based) and `col` (1-based) in `bufnr`: hint_start,
-- hint_end, or nil.
function M.hint(bufnr, line, col)
  local ts = vim.treesitter
  local hl = ts and ts.highlighter and ts.highlighter.active
  local parser = type(hl) == 'table' and hl[bufnr] and hl[bufnr].tree
  if not parser or type(parser.language_for_range) ~= 'function' then
    return nil
  end
  local ok, first, last = pcall(function()
    local row, c = line - 1, math.max((col or 1) - 1, 0)
    local range = { row, c, row, c }
    local lt = parser:language_for_range(range)
    if not lt:is_valid(true) or type(lt.tree_for_range) ~= 'function' then
      return nil
    end
    local tree = lt:tree_for_range(range)
    if not tree then
      return nil
    end
    return M.enclosing(tree:root(), lt:lang(), row, c)
  end)
  if ok and first then
    return first, last
  end
  return nil
end

return M
