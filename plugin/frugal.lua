-- frugal.nvim entry point: defines :Frugal and nothing else. The modules are loaded on first
-- use, so starting Neovim costs nothing more than this file.
if vim.g.loaded_frugal then
  return
end
vim.g.loaded_frugal = 1

if vim.fn.has('nvim-0.7') ~= 1 then
  vim.api.nvim_err_writeln('frugal.nvim needs Neovim 0.7 or later')
  return
end

vim.api.nvim_create_user_command('Frugal', function(opts)
  require('frugal').command(opts)
end, {
  nargs = '*',
  range = true,
  bang = true,
  desc = 'frugal: preview (and later send) an action on the code at the cursor or selection',
  complete = function(arglead, cmdline, cursorpos)
    return require('frugal').complete(arglead, cmdline, cursorpos)
  end,
})

-- <Plug> mappings (|frugal-mappings|); none is mapped to a key unless the user does it.
local function plug(lhs, modes, fn, desc)
  vim.keymap.set(modes, '<Plug>(' .. lhs .. ')', fn, { silent = true, desc = desc })
end
plug('frugal-menu', { 'n', 'x' }, function()
  require('frugal').menu()
end, 'frugal: action menu')
plug('frugal-preview-menu', { 'n', 'x' }, function()
  require('frugal').menu({ send = false })
end, 'frugal: preview menu')
for _, what in ipairs({ 'accept', 'reject', 'diff' }) do
  plug('frugal-' .. what, 'n', function()
    require('frugal.proposal').plug(what)
  end, 'frugal: ' .. what .. ' the proposal')
end
plug('frugal-cancel', 'n', function()
  require('frugal.run').cancel_current()
end, 'frugal: cancel')
for _, action in ipairs(require('frugal.catalogue').actions) do
  plug('frugal-' .. action, { 'n', 'x' }, function()
    require('frugal').action(action)
  end, 'frugal: ' .. action)
end
-- The plan buffer's (|frugal-plan-buffer|): mapped there to editor.plan.keys.
plug('frugal-plan-next', 'n', function()
  require('frugal.plan').run_next()
end, 'frugal: run the next step of the plan')
plug('frugal-plan-all', 'n', function()
  require('frugal.plan').run_all()
end, 'frugal: run all remaining steps of the plan')
plug('frugal-plan-step', 'n', function()
  require('frugal.plan').run_cursor()
end, 'frugal: run the plan step under the cursor')
