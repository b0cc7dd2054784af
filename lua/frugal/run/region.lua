-- Where the code a request was about is now. From the request on, every change to the buffer is
-- logged (nvim_buf_attach), so lines the host names in buffer-at-request numbers can be found
-- where they are now; from the answer on, two extmarks hold a region. Accepting re-reads the
-- region and refuses when its text is not what the host was given.
local M = {}

M.ns = vim.api.nvim_create_namespace('frugal')
M.region_ns = vim.api.nvim_create_namespace('frugal-region')

M.CHANGED = 'frugal: the code changed since the request; run the action again'

local HUGE = 2 ^ 31
M.SNAPSHOT_LINES = 3000 -- kept on each side of the cursor or selection at request time
local MAX_LOG = 20000 -- changes logged for a conversation's review lines; past this, lines as is

-- Starts logging the changes made to the run's buffer: each is {first, last, new_last}
-- (0-based, end-exclusive; lines first..last were replaced by first..new_last).
function M.watch(run)
  run.log = {}
  run.watching = true
  local ok = pcall(vim.api.nvim_buf_attach, run.bufnr, false, {
    on_lines = function(_, _, _, first, last, new_last)
      if not run.watching then
        return true -- detaches
      end
      if #run.log >= MAX_LOG then
        -- Kept for a conversation that goes on and on: stop; its lines are then taken as is.
        run.log = { { 0, HUGE, HUGE } }
        run.watching = false
        return true
      end
      run.log[#run.log + 1] = { first, last, new_last }
    end,
    on_reload = function()
      if run.watching then
        run.log[#run.log + 1] = { 0, HUGE, HUGE }
      end
    end,
    on_detach = function()
      if run.watching then
        run.log[#run.log + 1] = { 0, HUGE, HUGE }
        run.watching = false
      end
    end,
  })
  if not ok then
    run.watching = false
    run.log = { { 0, HUGE, HUGE } } -- not watched: nothing can be trusted to be where it was
  end
end

-- Keeps the lines around the request as they are now: an edit's region found among them is
-- checked against them, whatever the change log says.
function M.snapshot(run, params)
  local around = params.sel_start or params.line or 1
  run.snap_first = math.max(0, around - 1 - M.SNAPSHOT_LINES)
  run.snap = vim.api.nvim_buf_get_lines(run.bufnr, run.snap_first,
    math.max(around, params.sel_end or around) + M.SNAPSHOT_LINES, false)
end

-- Lines [s, e) (0-based) of the buffer-at-request: where they are now, and whether a change
-- since may have touched them (a change that overlaps them, or lines inserted among them).
function M.map_region(log, s, e)
  local touched = false
  for _, c in ipairs(log) do
    local first, last, new_last = c[1], c[2], c[3]
    if last <= s then
      -- Above the region (lines inserted right before its first line included): it moves.
      s, e = s + new_last - last, e + new_last - last
    elseif first >= e then -- luacheck: ignore 542
      -- Below it (lines added right after its last line included): nothing moves.
    else
      touched = true
      s, e = math.min(s, first), math.max(e + new_last - last, new_last)
    end
  end
  return s, e, touched
end

-- Line `l` (1-based) of the buffer-at-request, where it is now (1-based).
function M.map_line(log, l)
  local r = l - 1
  for _, c in ipairs(log) do
    local first, last, new_last = c[1], c[2], c[3]
    if r >= last then
      r = r + new_last - last
    elseif r >= first then
      r = math.min(r, math.max(first, new_last - 1))
    end
  end
  return math.max(1, r + 1)
end

-- Lines sl..el (1-based, inclusive) of the buffer as it was at `run`'s request: where they are
-- now, [s, e) 0-based, and whether they can no longer be trusted to hold what was sent.
function M.locate(run, sl, el)
  local bufnr = run.bufnr
  local n = el - sl + 1
  local s, e, touched = M.map_region(run.log or {}, sl - 1, el)
  local count = vim.api.nvim_buf_line_count(bufnr)
  -- The region as it was at the request, when the snapshot holds it, has the last word: the
  -- lines must be there unchanged. A change the log reports wider than it was (some commands
  -- report a line they did not alter) is then no reason to refuse.
  local i0 = sl - 1 - (run.snap_first or 0)
  if run.snap and i0 >= 0 and i0 + n <= #run.snap then
    local candidates = touched and { s, e - n } or { s }
    touched = true
    for _, c in ipairs(candidates) do
      if c >= 0 and c + n <= count then
        local now = vim.api.nvim_buf_get_lines(bufnr, c, c + n, false)
        local same = true
        for i = 1, n do
          if now[i] ~= run.snap[i0 + i] then
            same = false
            break
          end
        end
        if same then
          return c, c + n, false
        end
      end
    end
  elseif e > count or s < 0 or e - s ~= n then
    touched = true
  end
  return s, e, touched
end

-- A region held by extmarks: `p` has bufnr, before (the lines it should hold), mark_s, mark_e,
-- at_end (an empty region: the mark is at the end of the line above it) and ns (default M.ns).
function M.delete_marks(p)
  if p.bufnr and vim.api.nvim_buf_is_valid(p.bufnr) then
    for _, id in ipairs({ p.mark_s, p.mark_e }) do
      if id then
        pcall(vim.api.nvim_buf_del_extmark, p.bufnr, p.ns or M.ns, id)
      end
    end
  end
  p.mark_s, p.mark_e = nil, nil
end

-- Holds lines [s, e) (0-based) of p.bufnr, whose text is p.before, with two extmarks.
function M.place_marks(p, s, e)
  local ns = p.ns or M.ns
  if e > s then
    p.mark_s = vim.api.nvim_buf_set_extmark(p.bufnr, ns, s, 0, { right_gravity = true })
    p.mark_e = vim.api.nvim_buf_set_extmark(p.bufnr, ns, e - 1, #p.before[#p.before],
      { right_gravity = false })
  elseif s > 0 then
    -- Nothing replaced, lines inserted before line s: hold the end of the line above so lines
    -- added around do not move the spot.
    local above = vim.api.nvim_buf_get_lines(p.bufnr, s - 1, s, false)[1] or ''
    p.mark_s = vim.api.nvim_buf_set_extmark(p.bufnr, ns, s - 1, #above,
      { right_gravity = false })
    p.at_end = true
    p.mark_e = p.mark_s
  else
    -- ... or the start of the buffer.
    p.mark_s = vim.api.nvim_buf_set_extmark(p.bufnr, ns, 0, 0, { right_gravity = false })
    p.at_end = false
    p.mark_e = p.mark_s
  end
end

-- The current lines [s, e) of the region `p` holds, or nil and why when they cannot be had.
function M.anchored(p)
  if not (vim.api.nvim_buf_is_valid(p.bufnr) and vim.api.nvim_buf_is_loaded(p.bufnr)) then
    return nil, 'frugal: the buffer of this proposal is gone'
  end
  if p.touched or not p.mark_s then
    return nil, M.CHANGED
  end
  local ns = p.ns or M.ns
  local sm = vim.api.nvim_buf_get_extmark_by_id(p.bufnr, ns, p.mark_s, {})
  local em = vim.api.nvim_buf_get_extmark_by_id(p.bufnr, ns, p.mark_e, {})
  if not (sm and sm[1] and em and em[1]) then
    return nil, M.CHANGED
  end
  if #p.before == 0 then
    -- An insertion: the mark holds the end of the line above, or the start of the buffer.
    if p.at_end then
      local line = vim.api.nvim_buf_get_lines(p.bufnr, sm[1], sm[1] + 1, false)[1] or ''
      if sm[2] ~= #line then
        return nil, M.CHANGED
      end
      return sm[1] + 1, sm[1] + 1
    end
    if sm[1] ~= 0 or sm[2] ~= 0 then
      return nil, M.CHANGED
    end
    return 0, 0
  end
  if sm[2] ~= 0 or em[1] < sm[1] then
    return nil, M.CHANGED
  end
  local lines = vim.api.nvim_buf_get_lines(p.bufnr, sm[1], em[1] + 1, false)
  if em[2] ~= #(lines[#lines] or '') or #lines ~= #p.before then
    return nil, M.CHANGED
  end
  for i, l in ipairs(lines) do
    if l ~= p.before[i] then
      return nil, M.CHANGED
    end
  end
  return sm[1], em[1] + 1
end

-- Where the region `p` holds starts now (1-based), or nil when it is not held.
function M.current_start(p)
  if not (p.mark_s and vim.api.nvim_buf_is_valid(p.bufnr)) then
    return nil
  end
  local sm = vim.api.nvim_buf_get_extmark_by_id(p.bufnr, p.ns or M.ns, p.mark_s, {})
  if not (sm and sm[1]) then
    return nil
  end
  if #p.before == 0 and p.at_end then
    return sm[1] + 2
  end
  return sm[1] + 1
end

return M
