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
