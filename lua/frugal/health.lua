-- :checkhealth frugal
local M = {}

-- vim.health.start/ok/... from 0.10 on (0.8/0.9 have vim.health.report_*); 0.7 has only the
-- `health` module with report_* functions.
local function reporter()
  local h = vim.health
  if h and h.start then
    return h
  end
  if h and h.report_start then
    return {
      start = h.report_start, ok = h.report_ok, warn = h.report_warn,
      error = h.report_error, info = h.report_info,
    }
  end
  local legacy = require('health')
  return {
    start = legacy.report_start, ok = legacy.report_ok, warn = legacy.report_warn,
    error = legacy.report_error, info = legacy.report_info,
  }
end

local function shell_words(argv)
  local out = {}
  for _, a in ipairs(argv) do
    out[#out + 1] = vim.fn.shellescape(a)
  end
  return table.concat(out, ' ')
end

function M.check()
  local r = reporter()
  local frugal = require('frugal')
  local host = require('frugal.host')
  local config = require('frugal.config')
  local util = require('frugal.util')

  r.start('frugal: build')
  r.info('Neovim ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor)
    .. '.' .. tostring(vim.version().patch) .. '; plugin root: ' .. util.plugin_root())
  local cmd = host.command()
  local bin = cmd[1]
  local bin_ok = vim.fn.executable(bin) == 1
  if bin_ok then
    r.ok('host found: ' .. shell_words(cmd))
  else
    r.error('host not found or not executable: ' .. bin,
      { 'Run `make` in ' .. util.plugin_root() .. ' (lazy.nvim: build = "make")',
        'or point editor.host_cmd at the frugal executable' })
  end
  local lib = vim.fn.fnamemodify(bin, ':p:h') .. '/libfrugal.so'
  if vim.fn.filereadable(lib) == 1 then
    r.ok('library found: ' .. lib)
  else
    r.warn('library not found next to the host: ' .. lib,
      { 'The host needs it at run time; `make` builds both.' })
  end

  r.start('frugal: host version')
  if bin_ok then
    local argv = util.list_extend(cmd, { '--version', '--json' })
    local out = vim.fn.system(argv)
    local code = vim.v.shell_error
    local ok, info = pcall(vim.fn.json_decode, out)
    if code ~= 0 then
      r.error(string.format('`%s` failed (exit code %d): %s', shell_words(argv), code,
        vim.trim(out)))
    elseif not ok or type(info) ~= 'table' then
      r.error('`' .. shell_words(argv) .. '` did not print JSON: ' .. vim.trim(out))
    else
      local parts = {}
      for _, k in ipairs({ 'version', 'libuv', 'msgpack', 'curl', 'jansson' }) do
        parts[#parts + 1] = k .. ' ' .. tostring(util.val(info[k]) or '?')
      end
      r.info(table.concat(parts, ', '))
      if info.version == frugal.version then
        r.ok('host version ' .. tostring(info.version) .. ' matches the plugin')
      else
        r.error(string.format('host version %s, plugin version %s', tostring(info.version),
          frugal.version), { 'Rebuild the host: run `make` in ' .. util.plugin_root() })
      end
    end
  else
    r.warn('skipped: no host')
  end
  if host.running() and host.running_backend() == 'inprocess' then
    r.info(string.format('host running inside this Neovim, %d call(s) pending',
      host.pending_count()))
  elseif host.running() then
    r.info(string.format('host running (pid %s), %d call(s) pending, %d crash(es) so far',
      tostring(host.pid()), host.pending_count(), host._state.crashes))
  else
    r.info('host not running (it starts on the first :Frugal command)')
  end

  r.start('frugal: backend')
  local wanted = host.backend()
  local running = host.running_backend()
  r.info('backend: ' .. (running or wanted) .. (running and ' (running)' or ' (not started)'))
  if running and running ~= wanted then
    r.warn('setup() asks for backend ' .. wanted .. '; `:Frugal restart` switches to it')
  end
  if (running or wanted) == 'inprocess' then
    local ip = require('frugal.inprocess')
    local lib_path = host.library()
    local version, verr = ip.version(lib_path)
    if not version then
      r.error('the in-process library cannot be loaded: ' .. tostring(verr),
        { 'Run `make` in ' .. util.plugin_root() .. ', or use backend = "process"' })
    else
      if version == frugal.version then
        r.ok('library version ' .. version .. ' matches the plugin (' .. lib_path .. ')')
      else
        r.error(string.format('library version %s, plugin version %s', version, frugal.version),
          { 'Rebuild it: run `make` in ' .. util.plugin_root() .. ', then restart Neovim' })
      end
      local isolated, where, deepbind = ip.isolation(lib_path)
      if isolated then
        r.ok('symbol isolation holds: ' .. where
          .. (deepbind and '' or ' (opened without RTLD_DEEPBIND: a sanitizer runtime is loaded)'))
      elseif isolated == false then
        r.error('symbol isolation broken: ' .. where,
          { 'Some of its references bind to Neovim\'s own symbols: use backend = "process"' })
      else
        r.warn('symbol isolation unknown: ' .. tostring(where))
      end
    end
  end

  r.start('frugal: configuration')
  local opts = frugal.options()
  local setup_error = frugal.setup_error()
  if setup_error then
    r.error(setup_error, { 'Fix that key in your setup() call; until then the previous options (or the defaults) apply.' })
  elseif opts == nil then
    r.ok('setup() not called: the defaults apply')
  else
    local ok, err = pcall(config.validate, opts)
    if ok then
      r.ok('setup() options are valid')
    else
      r.error(tostring(err))
    end
  end

  r.start('frugal: tiers')
  local catalogue = require('frugal.catalogue')
  local given = opts and type(opts.tiers) == 'table' and opts.tiers or {}
  local urls = {}
  for _, t in ipairs(config.tiers) do
    local g = type(given[t]) == 'table' and given[t] or {}
    local d = catalogue.tier_defaults[t] or {}
    local provider = util.val(g.provider) or d.provider or '?'
    local pd = catalogue.provider_defaults[provider] or {}
    local url = util.val(g.base_url) or pd.base_url or '?'
    urls[#urls + 1] = { tier = t, url = url }
    r.info(string.format('%s: %s %s at %s (key $%s)', t, provider, util.val(g.model) or d.model
      or '?', url, util.val(g.api_key_env) or pd.api_key_env or '?'))
  end
  if vim.g.frugal_health_ping == 1 or vim.g.frugal_health_ping == true then
    if vim.fn.executable('curl') == 1 then
      for _, u in ipairs(urls) do
        local code = vim.trim(vim.fn.system({ 'curl', '-sS', '-o', '/dev/null', '-w',
          '%{http_code}', '--max-time', '5', u.url }))
        if vim.v.shell_error == 0 then
          r.ok(string.format('%s: %s answers (HTTP %s)', u.tier, u.url, code))
        else
          r.warn(string.format('%s: %s does not answer: %s', u.tier, u.url, code))
        end
      end
    else
      r.info('g:frugal_health_ping is set but curl is not installed')
    end
  else
    r.info('let g:frugal_health_ping = 1 to check here whether each base URL answers')
  end

  r.start('frugal: ledger and budget')
  local budget = opts and type(opts.budget) == 'table' and opts.budget or {}
  local daily = tonumber(util.val(budget.daily_usd))
  local monthly = tonumber(util.val(budget.monthly_usd))
  if bin_ok then
    local ledger = opts and type(opts.ledger) == 'table' and util.val(opts.ledger.path)
    if type(ledger) == 'string' then
      ledger = vim.fn.expand(ledger)
    else
      -- The host's default (|frugal-ledger|).
      local state_home = os.getenv('XDG_STATE_HOME')
      if not state_home or state_home == '' then
        state_home = vim.fn.expand('~/.local/state')
      end
      ledger = state_home .. '/nvim/frugal/ledger.jsonl'
    end
    r.info('ledger: ' .. ledger)
    if vim.fn.filereadable(ledger) == 1 then
      local argv = util.list_extend(cmd, { 'cost', 'today', '--json', '--ledger', ledger })
      local out = vim.fn.system(argv)
      local ok, rep = pcall(vim.fn.json_decode, out)
      if vim.v.shell_error == 0 and ok and type(rep) == 'table' then
        r.info(string.format('spent today: $%.4f on %s task(s)', tonumber(rep.cost_usd) or 0,
          tostring(rep.tasks or 0)))
      else
        r.warn('could not read the ledger: ' .. vim.trim(out))
      end
    else
      r.info('spent today: nothing yet (no ledger)')
    end
  end
  r.info(string.format('budget: %s a day, %s a month',
    daily and require('frugal.preview').amount(daily) or 'none',
    monthly and require('frugal.preview').amount(monthly) or 'none'))

  r.start('frugal: provider keys')
  for _, name in ipairs(config.key_envs(opts)) do
    local v = os.getenv(name)
    if v and v ~= '' then
      r.ok('$' .. name .. ' is set')
    else
      r.info('$' .. name .. ' is not set')
    end
  end
  local tiers = opts and opts.tiers or {}
  for _, t in ipairs(config.tiers) do
    local cmdkey = tiers[t] and util.val(tiers[t].api_key_cmd)
    if cmdkey then
      r.info('tiers.' .. t .. '.api_key_cmd is set (run on first use, not here)')
    end
  end
end

return M
