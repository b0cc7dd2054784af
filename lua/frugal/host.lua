-- The host: started lazily on the first call, spoken to over msgpack-RPC, restarted on the next
-- call after a crash. Two backends (|frugal-backends|), the same protocol:
--   process    the `frugal --stdio` process, on its stdio (a job channel; the default)
--   inprocess  libfrugal.so loaded into Neovim (lua/frugal/inprocess.lua); its thread connects
--              to v:servername and announces its channel with `_attach(token, channel)`; calls
--              made before that wait in a queue, in order.
--
-- Requests are notifications (`frugal_call`, id, method, params) so that Lua never waits; the
-- host answers each one by calling back `_reply(id, err, result)` through nvim_exec_lua. A call
-- that streams (`run`) also gets `_event(id, event)` calls before its reply. The channel is
-- ordered, so a `configure` sent right after the start arrives before any call.
local util = require('frugal.util')

local M = {}

local STDERR_KEEP = 20
local CRASH = 'frugal: the host exited unexpectedly'

-- All state lives in this one table so that tests (and :checkhealth) can look at it.
local state = {
  chan = nil, -- job/channel id of the running host
  cmd = nil, -- the argv it was started with
  next_id = 0,
  pending = {}, -- id -> callback(err, result)
  events = {}, -- id -> on_event(event) for calls that stream
  stderr = {}, -- last lines the host wrote to stderr
  stopping = {}, -- chan -> true for hosts we stopped on purpose
  config_json = nil, -- JSON to send with `configure` after every start
  host_cmd = nil, -- argv prefix from editor.host_cmd; nil: the build output
  restarts = 0,
  crashes = 0,
  leave_autocmd = false,
  backend = nil, -- backend of the running host ('process' or 'inprocess'), nil when none runs
  inproc = nil, -- inprocess: the library's handle (lua/frugal/inprocess.lua)
  token = 0, -- inprocess: the start an _attach belongs to
  queue = nil, -- inprocess: {id, method, params} sent before the library attached
}
M._state = state

-- The host executable and its leading arguments (without `--stdio`).
function M.command()
  if state.host_cmd then
    return state.host_cmd
  end
  return { util.plugin_root() .. '/build/frugal' }
end

function M.set_command(argv)
  state.host_cmd = argv
end

-- The backend setup() asks for (`backend`, default "process"); a running host keeps its own
-- until it is stopped or restarted.
function M.backend()
  local ok, frugal = pcall(require, 'frugal')
  local opts = ok and frugal.options and frugal.options() or nil
  return (opts and opts.backend) or 'process'
end

-- The library the in-process backend loads: next to the host executable.
function M.library()
  return vim.fn.fnamemodify(M.command()[1], ':p:h') .. '/libfrugal.so'
end

local function push_stderr(data)
  if type(data) ~= 'table' then
    return
  end
  -- on_stderr hands over chunks split at newlines; the last element is an unfinished line.
  for _, line in ipairs(data) do
    if line ~= '' then
      state.stderr[#state.stderr + 1] = line
    end
  end
  while #state.stderr > STDERR_KEEP do
    table.remove(state.stderr, 1)
  end
end

local function fail_pending(message)
  local pending = state.pending
  state.pending = {}
  state.events = {}
  local ids = vim.tbl_keys(pending)
  table.sort(ids)
  for _, id in ipairs(ids) do
    local cb = pending[id]
    vim.schedule(function()
      cb(message, nil)
    end)
  end
end

local function on_exit(chan, code)
  if state.stopping[chan] then
    state.stopping[chan] = nil
    if state.chan == chan then
      state.chan = nil
      state.backend = nil
      fail_pending('frugal: the host was stopped')
    end
    return
  end
  if state.chan ~= chan then
    return
  end
  state.chan = nil
  state.backend = nil
  state.crashes = state.crashes + 1
  local msg = string.format('%s (exit code %d)', CRASH, code)
  fail_pending(msg)
  local tail = {}
  for i = math.max(1, #state.stderr - 4), #state.stderr do
    tail[#tail + 1] = '  ' .. state.stderr[i]
  end
  if #tail > 0 then
    msg = msg .. '; its last words:\n' .. table.concat(tail, '\n')
  end
  msg = msg .. '\nIt will be restarted on the next request.'
  util.notify(msg, vim.log.levels.ERROR)
end

local function ensure_leave_autocmd()
  if state.leave_autocmd then
    return
  end
  state.leave_autocmd = true
  -- When Neovim quits it ends its jobs; that is not a crash worth reporting.
  vim.api.nvim_create_autocmd('VimLeavePre', {
    group = vim.api.nvim_create_augroup('frugal_host', { clear = true }),
    callback = function()
      if state.inproc then
        -- The library's thread must end before the process does: its runs are cancelled and
        -- recorded as such.
        M.stop()
      elseif state.chan then
        state.stopping[state.chan] = true
      end
    end,
  })
end

local send_configure

-- The directory the host works in (its current directory: the project of its plans): where
-- Neovim was when the process started, Neovim's own for the in-process library.
function M.cwd()
  if state.backend == 'process' and state.cwd then
    return state.cwd
  end
  return vim.fn.getcwd(-1, -1)
end

local function start_inprocess()
  local address = vim.v.servername
  if address == nil or address == '' then
    -- Neovim started without a server (--listen unset, $NVIM_LISTEN_ADDRESS cleared).
    local ok, addr = pcall(vim.fn.serverstart)
    if not ok or type(addr) ~= 'string' or addr == '' then
      return nil, 'frugal: the in-process backend needs an RPC server and serverstart() failed: '
        .. tostring(addr)
    end
    address = addr
  end
  state.token = state.token + 1
  local handle, err = require('frugal.inprocess').start(M.library(), address, state.token)
  if not handle then
    return nil, 'frugal: the in-process backend did not start: ' .. tostring(err)
  end
  if state.cmd then
    state.restarts = state.restarts + 1
  end
  state.inproc = handle
  state.queue = {}
  state.backend = 'inprocess'
  state.cmd = { M.library() }
  state.stderr = {}
  ensure_leave_autocmd()
  if state.config_json then
    send_configure()
  end
  return true
end

-- Starts the host if it is not running. Returns the channel (true for an in-process host that
-- has not attached yet), or nil and an error message.
function M.start()
  if state.chan then
    return state.chan
  end
  if state.inproc then
    return true
  end
  if M.backend() == 'inprocess' then
    return start_inprocess()
  end
  local argv = util.list_extend(M.command(), { '--stdio' })
  if vim.fn.executable(argv[1]) ~= 1 then
    return nil, string.format(
      'frugal: host not found or not executable: %s (build it with `make` in %s, or set '
        .. 'editor.host_cmd)', argv[1], util.plugin_root())
  end
  state.stderr = {}
  local ok, chan = pcall(vim.fn.jobstart, argv, {
    rpc = true,
    on_stderr = function(_, data)
      push_stderr(data)
    end,
    on_exit = function(job, code)
      on_exit(job, code)
    end,
  })
  if not ok or type(chan) ~= 'number' or chan <= 0 then
    return nil, string.format('frugal: could not start the host %s: %s', argv[1],
      ok and ('jobstart returned ' .. tostring(chan)) or tostring(chan))
  end
  if state.cmd then
    state.restarts = state.restarts + 1
  end
  state.chan = chan
  state.cmd = argv
  state.backend = 'process'
  state.cwd = vim.fn.getcwd(-1, -1) -- the host's project (its plans, its steps' paths)
  ensure_leave_autocmd()
  if state.config_json then
    send_configure()
  end
  return chan
end

-- Stops the host on purpose (no crash report); pending calls fail with "stopped". An
-- in-process host's thread has ended when this returns (its runs cancelled and recorded).
function M.stop()
  if state.inproc then
    local handle = state.inproc
    state.inproc = nil
    state.chan = nil
    state.queue = nil
    state.backend = nil
    require('frugal.inprocess').stop(handle)
    fail_pending('frugal: the host was stopped')
    return
  end
  local chan = state.chan
  if not chan then
    return
  end
  state.stopping[chan] = true
  vim.fn.jobstop(chan)
end

-- Stops the host and starts it again with the backend setup() asks for now. Returns what
-- M.start() returns.
function M.restart()
  if state.chan and not state.inproc then
    -- The old process's exit comes later; the calls it leaves fail now, and only those. Its
    -- input is closed rather than the process killed, so it cancels its runs and records them
    -- (as when Neovim quits); one that has not exited 3 s later is stopped.
    local chan = state.chan
    state.stopping[chan] = true
    state.chan = nil
    state.backend = nil
    fail_pending('frugal: the host was stopped')
    if not pcall(vim.fn.chanclose, chan, 'rpc') then
      vim.fn.jobstop(chan)
    else
      vim.defer_fn(function()
        if vim.fn.jobwait({ chan }, 0)[1] == -1 then
          vim.fn.jobstop(chan)
        end
      end, 3000)
    end
  else
    M.stop()
  end
  return M.start()
end

function M.running()
  return state.chan ~= nil or state.inproc ~= nil
end

-- 'process' or 'inprocess' while a host runs, else nil.
function M.running_backend()
  return state.backend
end

-- Process id of the running host (the editor's own for the in-process backend), or nil.
function M.pid()
  if state.inproc then
    return vim.fn.getpid()
  end
  if not state.chan then
    return nil
  end
  local ok, pid = pcall(vim.fn.jobpid, state.chan)
  if ok then
    return pid
  end
  return nil
end

-- Calls `method` with `params` (a table with string keys) on the host; `cb(err, result)` runs
-- later on the main loop, exactly once: err is nil or a message, result a table or nil.
-- `on_event(event)`, when given, runs on the main loop for each event the host sends about this
-- call before its reply (in the order sent, never after `cb`).
-- Returns the request id, or nil when the host could not be started (cb has been scheduled
-- with the reason).
function M.call(method, params, cb, on_event)
  cb = cb or function() end
  local chan, err = M.start()
  if not chan then
    vim.schedule(function()
      cb(err, nil)
    end)
    return nil
  end
  state.next_id = state.next_id + 1
  local id = state.next_id
  state.pending[id] = cb
  state.events[id] = on_event
  if params == nil or next(params) == nil then
    params = vim.empty_dict()
  end
  if state.queue and not state.chan then
    -- In-process, not attached yet: sent in order by _attach.
    state.queue[#state.queue + 1] = { id, method, params }
    return id
  end
  local ok, e = pcall(vim.rpcnotify, chan, 'frugal_call', id, method, params)
  if not ok then
    state.pending[id] = nil
    state.events[id] = nil
    if state.inproc then
      -- The library's connection is gone (its channel closed): the next call starts it afresh.
      M.stop()
    end
    vim.schedule(function()
      cb('frugal: could not send to the host: ' .. tostring(e), nil)
    end)
    return nil
  end
  return id
end

send_configure = function()
  M.call('configure', { config_json = state.config_json }, function(err)
    if err then
      util.notify('frugal: the host rejected the configuration: ' .. tostring(err),
        vim.log.levels.ERROR)
    end
  end)
end

-- Sets the JSON sent with `configure` (nil: nothing to send); a running host gets it now.
function M.configure(json)
  state.config_json = json
  if json and (state.chan or state.inproc) then
    send_configure()
  end
end

-- True for the error a call fails with when the host crashed (the crash itself is reported once).
function M.is_crash_error(err)
  return type(err) == 'string' and err:sub(1, #CRASH) == CRASH
end

function M.pending_count()
  return vim.tbl_count(state.pending)
end

function M.stderr_tail()
  return vim.deepcopy(state.stderr)
end

-- Called by the host (nvim_exec_lua) with the answer to request `id`. Returns quickly: the
-- callback runs later on the main loop so the host is not kept waiting on the editor's UI work.
function M._reply(id, err, result)
  local cb = state.pending[id]
  if not cb then
    return false
  end
  state.pending[id] = nil
  state.events[id] = nil
  if err == vim.NIL then
    err = nil
  end
  if err ~= nil and type(err) ~= 'string' then
    err = vim.inspect(err)
  end
  if result == vim.NIL then
    result = nil
  end
  vim.schedule(function()
    cb(err, result)
  end)
  return true
end

-- Called by the host (nvim_exec_lua) with an event of streaming call `id` (|frugal-run-rpc|).
-- Returns true when the call is known (false tells the host nobody listens any more). Like
-- `_reply`, the handler runs later; both go through the same queue, so events are handled in
-- order and always before the reply.
function M._event(id, event)
  local handler = state.events[id]
  if not handler then
    return false
  end
  if type(event) ~= 'table' then
    return true
  end
  vim.schedule(function()
    handler(event)
  end)
  return true
end

-- Called by the in-process library (nvim_exec_lua) once connected: `channel` is where its calls
-- go. A token from an earlier start (stopped since) is refused, which makes the library stop.
function M._attach(token, channel)
  if not state.inproc or token ~= state.token or type(channel) ~= 'number' then
    return error('frugal: no in-process host is waiting for this connection')
  end
  state.chan = channel
  local queue = state.queue or {}
  state.queue = nil
  for _, q in ipairs(queue) do
    local ok, e = pcall(vim.rpcnotify, channel, 'frugal_call', q[1], q[2], q[3])
    if not ok then
      M._reply(q[1], 'frugal: could not send to the host: ' .. tostring(e), nil)
    end
  end
  return true
end

-- Called by the in-process library with a line it cannot send to anyone (what the process
-- backend writes to stderr); kept for crash reports and :checkhealth.
function M._log(line)
  push_stderr({ tostring(line) })
end

-- Asks the host to cancel call `id` (a `run`); `cb(err, result)` gets {cancelled = bool}. The
-- run itself then ends with err "cancelled". Returns the cancel call's id or nil.
function M.cancel(id, cb)
  return M.call('cancel', { id = id }, cb)
end

return M
