-- Measures how long Neovim's main loop is kept busy while an answer streams into a buffer.
--
-- Two clocks run from start() until the whole answer is in its buffer:
--   * a 1 ms repeating libuv timer whose callback records when it ran: a gap between two ticks
--     is time the event loop did not get to run timers (the "stall");
--   * from each tick, at most one vim.schedule() callback at a time, which records how long it
--     waited in the main queue (where text batches, RPC requests and typed keys are handled too)
--     and checks whether the answer is complete. Timers can also fire from inside some long
--     operations (Neovim polls the loop in os_breakcheck), so this second figure is the one a
--     key press would feel; both are reported.
-- The answer counts as shown when the buffer holds as many bytes as the expected text (checked
-- with nvim_buf_get_offset, O(1) in the text length) and is shown in a window.
--
-- Loaded with dofile(); returns the module. One measurement at a time.
local uv = vim.uv or vim.loop

local M = {}

local st = nil

local function find_buf()
  if st.buf then
    return st.buf
  end
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if b > st.min_buf and vim.api.nvim_buf_get_name(b):match(st.pattern) then
      st.buf = b
      return b
    end
  end
  return nil
end

-- CPU time this process has used, user + system, in microseconds.
local function cpu_us()
  local r = uv.getrusage()
  return r.utime.sec * 1e6 + r.utime.usec + r.stime.sec * 1e6 + r.stime.usec
end

local function stop()
  if st.timer then
    st.timer:stop()
    st.timer:close()
    st.timer = nil
  end
end

local function check(queued)
  st.checking = false
  local now = uv.hrtime()
  st.lat[#st.lat + 1] = now - queued
  st.lat_at[#st.lat_at + 1] = queued
  if st.done then
    return
  end
  local buf = find_buf()
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local n = vim.api.nvim_buf_line_count(buf)
  if n < st.expect_lines then
    return
  end
  if vim.api.nvim_buf_get_offset(buf, n) >= st.expect_bytes and #vim.fn.win_findbuf(buf) > 0 then
    st.done = now
    stop()
  end
end

-- Wraps the frugal host's event entry point to count the batches it delivers and time how long
-- the plugin's handler for each takes (the append to the window). Measurement only: the
-- wrapped functions are called unchanged.
local function instrument_frugal()
  local host = require('frugal.host')
  if not host._stall_orig_event then
    host._stall_orig_event = host._event
    host._stall_orig_reply = host._reply
  end
  host._event = function(id, ev)
    local events = host._state.events
    local handler = events[id]
    if st and handler and not st.wrapped[id] and type(ev) == 'table' then
      st.wrapped[id] = true
      events[id] = function(e)
        local t = uv.hrtime()
        handler(e)
        local d = uv.hrtime() - t
        st.timeline[#st.timeline + 1] = { (t - st.t0) / 1e6, string.format('handler %.2f ms', d / 1e6) }
        if type(e.text) == 'string' then
          st.batches = st.batches + 1
          st.batch_bytes = st.batch_bytes + #e.text
          if #e.text > st.batch_max_bytes then
            st.batch_max_bytes = #e.text
          end
          if d > st.batch_max_ns then
            st.batch_max_ns = d
          end
        end
      end
    end
    if st and type(ev) == 'table' then
      st.timeline[#st.timeline + 1] = { (uv.hrtime() - st.t0) / 1e6, 'event ' .. tostring(ev.kind)
        .. (type(ev.text) == 'string' and (' ' .. #ev.text) or '') }
    end
    return host._stall_orig_event(id, ev)
  end
  host._reply = function(id, err, result)
    if st and not st.finished then
      st.finished = uv.hrtime()
    end
    return host._stall_orig_reply(id, err, result)
  end
end

-- Starts a measurement. opts: expect_bytes (nvim_buf_get_offset at the end of the full text:
-- its length + 1), expect_lines, pattern (Lua pattern of the buffer name; only buffers created
-- after this call are considered), frugal (true: instrument the plugin's host module).
function M.start(opts)
  if st then
    stop()
  end
  local bufs = vim.api.nvim_list_bufs()
  st = {
    expect_bytes = opts.expect_bytes,
    expect_lines = opts.expect_lines,
    pattern = opts.pattern,
    min_buf = bufs[#bufs] or 0,
    ticks = {},
    cpu = {},
    lat = {},
    lat_at = {},
    checking = false,
    wrapped = {},
    timeline = {},
    batches = 0,
    batch_bytes = 0,
    batch_max_bytes = 0,
    batch_max_ns = 0,
  }
  if opts.frugal then
    instrument_frugal()
  end
  local ticks, cpu = st.ticks, st.cpu
  st.cpu0 = cpu_us()
  st.t0 = uv.hrtime()
  st.timer = uv.new_timer()
  st.timer:start(1, 1, function()
    local now = uv.hrtime()
    ticks[#ticks + 1] = now
    cpu[#cpu + 1] = cpu_us()
    if not st.checking then
      st.checking = true
      vim.schedule(function()
        check(now)
      end)
    end
  end)
end

-- Marks the stream as finished by the client (naive.lua calls this when curl exits).
function M.finished()
  if st and not st.finished then
    st.finished = uv.hrtime()
  end
end

-- The buffer being measured, or nil when it has not been found yet.
function M.buf()
  return st and st.buf
end

-- Where the measurement is: {done, finished_ms, elapsed_ms}.
function M.status()
  if not st then
    return { done = false }
  end
  local now = uv.hrtime()
  return {
    done = st.done ~= nil,
    elapsed_ms = (now - st.t0) / 1e6,
    finished_ms = st.finished and (st.finished - st.t0) / 1e6 or vim.NIL,
  }
end

-- Stops the clocks and returns what was measured: tick gaps and schedule latencies in ms, the
-- time from start() to the whole text shown (nil when it never was), and the batch figures.
function M.result()
  if not st then
    return nil
  end
  stop()
  local gaps, gap_cpu = {}, {}
  local prev, prev_cpu = st.t0, st.cpu0
  local last = st.done or math.huge
  for i, t in ipairs(st.ticks) do
    if t > last then
      break
    end
    gaps[#gaps + 1] = (t - prev) / 1e6
    gap_cpu[#gap_cpu + 1] = (st.cpu[i] - prev_cpu) / 1e3
    prev, prev_cpu = t, st.cpu[i]
  end
  local lat, lat_at = {}, {}
  for i, d in ipairs(st.lat) do
    lat[i] = d / 1e6
    lat_at[i] = (st.lat_at[i] - st.t0) / 1e6
  end
  return {
    gaps = gaps,
    gap_cpu = gap_cpu, -- CPU time Neovim used during each gap (ms); less than the gap: it waited
    lat = lat,
    lat_at = lat_at,
    shown_ms = st.done and (st.done - st.t0) / 1e6 or vim.NIL,
    finished_ms = st.finished and (st.finished - st.t0) / 1e6 or vim.NIL,
    batches = st.batches,
    timeline = st.timeline,
    batch_bytes = st.batch_bytes,
    batch_max_bytes = st.batch_max_bytes,
    batch_max_ms = st.batch_max_ns / 1e6,
    buf = st.buf or vim.NIL,
  }
end

return M
