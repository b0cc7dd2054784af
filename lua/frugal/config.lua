-- The setup() table: validation against the configuration contract shared with the `frugal`
-- command line (its JSON config has the same keys), and the JSON the host is configured with.
--
-- Every key is optional. An unknown key or a value of the wrong kind raises an error naming the
-- full key path ("tiers.mini.modle"), so a typo never silently falls back to a default. Only the
-- `editor` table and `backend` are the plugin's own; they are never sent to the host.
local catalogue = require('frugal.catalogue')
local util = require('frugal.util')

local M = {}

-- Actions, providers and tiers come from the host's own tables (lua/frugal/catalogue.lua is
-- generated from `frugal catalogue --json`); the keys below are checked against the host's by
-- tests/e2e/test_catalogue.py.
M.actions = catalogue.actions
M.providers = catalogue.providers
M.tiers = catalogue.tiers

-- Defaults of the plugin-only options (documented in |frugal-config-editor|).
M.editor_defaults = {
  host_cmd = nil, -- nil: <plugin root>/build/frugal
  preview = {
    style = 'float', -- 'float' or 'split'
    border = 'rounded',
  },
  stream = {
    style = 'split', -- the answer window of :Frugal {action}: 'split' (at the right) or 'float'
    border = 'rounded',
  },
  -- Keys set in the source buffer while one of its proposals waits; false: none.
  proposal_keys = {
    accept = '<LocalLeader>a',
    reject = '<LocalLeader>r',
    diff = '<LocalLeader>d',
  },
  -- The plan buffer of :Frugal plan (|frugal-plan-buffer|).
  plan = {
    auto_accept = false, -- true: accept each step's proposal, stop at one that cannot be applied
    keys = { next = '<LocalLeader>n', all = '<LocalLeader>A', step = '<LocalLeader>s' },
  },
}

local function describe(v)
  if v == vim.NIL then
    return 'null'
  end
  if type(v) == 'string' then
    return string.format('string %q', v)
  end
  if type(v) == 'number' or type(v) == 'boolean' then
    return type(v) .. ' ' .. tostring(v)
  end
  return type(v)
end

local function fail(path, expected, got)
  error(string.format('frugal.setup: `%s` should be %s, got %s', path, expected, describe(got)), 0)
end

local function join(path, key)
  if path == '' then
    return tostring(key)
  end
  return path .. '.' .. tostring(key)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- Checkers: function(value, path). Each raises with the path of the first wrong key.
local function string_v(v, path)
  if type(v) ~= 'string' or v == '' then
    fail(path, 'a non-empty string', v)
  end
end

-- Any string, the empty one included (http.proxy = '' means "no proxy").
local function any_string(v, path)
  if type(v) ~= 'string' then
    fail(path, 'a string', v)
  end
end

local function bool_v(v, path)
  if type(v) ~= 'boolean' then
    fail(path, 'true or false', v)
  end
end

local function nullable(check)
  return function(v, path)
    if v ~= vim.NIL then
      check(v, path)
    end
  end
end

local function one_of(choices)
  return function(v, path)
    for _, c in ipairs(choices) do
      if v == c then
        return
      end
    end
    fail(path, 'one of ' .. table.concat(choices, ', '), v)
  end
end

local function positive_integer(v, path)
  if type(v) ~= 'number' or v ~= math.floor(v) or v <= 0 then
    fail(path, 'a positive integer', v)
  end
end

local function non_negative_number(v, path)
  if type(v) ~= 'number' or v ~= v or v < 0 or v == math.huge then
    fail(path, 'a number >= 0', v)
  end
end

-- A table with exactly these optional keys.
local function record(fields)
  return function(v, path)
    if type(v) ~= 'table' or (next(v) ~= nil and util.is_list(v)) then
      fail(path, 'a table with keys ' .. table.concat(sorted_keys(fields), ', '), v)
    end
    for _, k in ipairs(sorted_keys(v)) do
      local check = fields[k]
      if type(k) ~= 'string' or not check then
        error(string.format('frugal.setup: unknown key `%s` (expected one of: %s)',
          join(path, k), table.concat(sorted_keys(fields), ', ')), 0)
      end
      check(v[k], join(path, k))
    end
  end
end

-- A table whose keys are free strings (a model name) or drawn from `names`.
local function map_of(value_check, names)
  return function(v, path)
    if type(v) ~= 'table' or (next(v) ~= nil and util.is_list(v)) then
      fail(path, 'a table keyed by name', v)
    end
    for _, k in ipairs(sorted_keys(v)) do
      if type(k) ~= 'string' or k == '' then
        error(string.format('frugal.setup: `%s` has a key that is not a name: %s', path,
          describe(k)), 0)
      end
      if names and not vim.tbl_contains(names, k) then
        error(string.format('frugal.setup: unknown key `%s` (expected one of: %s)',
          join(path, k), table.concat(names, ', ')), 0)
      end
      value_check(v[k], join(path, k))
    end
  end
end

local function argv(v, path)
  if type(v) == 'string' then
    string_v(v, path)
    return
  end
  if type(v) ~= 'table' or #v == 0 or not util.is_list(v) then
    fail(path, 'a command: a string or a non-empty list of strings', v)
  end
  for i, a in ipairs(v) do
    string_v(a, path .. '[' .. i .. ']')
  end
end

local function border(v, path)
  if type(v) == 'string' then
    return
  end
  if type(v) ~= 'table' or not util.is_list(v) then
    fail(path, "a border name ('none', 'single', 'double', 'rounded', ...) or a list", v)
  end
end

local function key_or_false(v, path)
  if v ~= false then
    string_v(v, path)
  end
end

local function proposal_keys(v, path)
  if v == false then
    return
  end
  record({ accept = key_or_false, reject = key_or_false, diff = key_or_false })(v, path)
end

local tier_schema = record({
  provider = one_of(M.providers),
  model = string_v,
  base_url = string_v,
  api_key_env = string_v,
  api_key_cmd = nullable(string_v),
  max_output_tokens = positive_integer,
  context_tokens = positive_integer,
  context_budget = positive_integer,
})

local schema = record({
  tiers = map_of(tier_schema, M.tiers),
  prices = map_of(record({
    input = non_negative_number,
    cached_input = non_negative_number,
    output = non_negative_number,
    cache_write = non_negative_number,
  })),
  actions = map_of(record({ tier = one_of(M.tiers) }), M.actions),
  ledger = record({ path = nullable(string_v) }),
  budget = record({
    daily_usd = nullable(non_negative_number),
    monthly_usd = nullable(non_negative_number),
  }),
  escalation = record({ enabled = bool_v }),
  conversation = record({ max_turns = positive_integer }),
  http = record({
    proxy = nullable(any_string),
    ca_file = nullable(string_v),
    allow_insecure_key = bool_v,
  }),
  backend = one_of({ 'process', 'inprocess' }),
  editor = record({
    host_cmd = argv,
    preview = record({
      style = one_of({ 'float', 'split' }),
      border = border,
    }),
    stream = record({
      style = one_of({ 'split', 'float' }),
      border = border,
    }),
    proposal_keys = proposal_keys,
    plan = record({
      auto_accept = bool_v,
      keys = function(v, path)
        if v ~= false then
          record({ next = key_or_false, all = key_or_false, step = key_or_false })(v, path)
        end
      end,
    }),
  }),
})

-- Raises an error naming the first wrong key; returns nothing when `opts` is valid.
function M.validate(opts)
  if opts == nil then
    return
  end
  if type(opts) ~= 'table' then
    error('frugal.setup: expected a table of options, got ' .. describe(opts), 0)
  end
  schema(opts, '')
end

-- A deep copy without the tables that hold nothing: JSON encoders turn an empty Lua table into
-- `[]`, which the host would rightly reject where an object is expected.
local function prune(v)
  if type(v) ~= 'table' then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    local p = prune(x)
    if p ~= nil then
      out[k] = p
    end
  end
  if next(out) == nil then
    return nil
  end
  return out
end

-- The JSON document for the host's `configure`, or nil when there is nothing to send.
function M.to_json(opts)
  if opts == nil then
    return nil
  end
  local copy = {}
  for k, v in pairs(opts) do
    if k ~= 'editor' and k ~= 'backend' then -- both are the plugin's own
      copy[k] = v
    end
  end
  copy = prune(copy)
  if copy == nil then
    return nil
  end
  return vim.fn.json_encode(copy)
end

-- The plugin-only options with their defaults filled in.
function M.editor(opts)
  local e = (opts and opts.editor) or {}
  local preview = e.preview or {}
  local stream = e.stream or {}
  local host_cmd = e.host_cmd
  if type(host_cmd) == 'string' then
    host_cmd = { host_cmd }
  end
  local keys = false
  if e.proposal_keys ~= false then
    local given = e.proposal_keys or {}
    keys = {}
    for k, default in pairs(M.editor_defaults.proposal_keys) do
      if given[k] == nil then
        keys[k] = default
      elseif given[k] ~= false then
        keys[k] = given[k]
      end
    end
  end
  local plan = e.plan or {}
  local plan_keys = false
  if plan.keys ~= false then
    plan_keys = {}
    for k, default in pairs(M.editor_defaults.plan.keys) do
      local given = (plan.keys or {})[k]
      if given == nil then
        plan_keys[k] = default
      elseif given ~= false then
        plan_keys[k] = given
      end
    end
  end
  return {
    proposal_keys = keys,
    plan = { auto_accept = plan.auto_accept == true, keys = plan_keys },
    host_cmd = host_cmd,
    preview = {
      style = preview.style or M.editor_defaults.preview.style,
      border = preview.border or M.editor_defaults.preview.border,
    },
    stream = {
      style = stream.style or M.editor_defaults.stream.style,
      border = stream.border or M.editor_defaults.stream.border,
    },
  }
end

-- The API key environment variables a config refers to (the defaults of both providers first).
function M.key_envs(opts)
  local names = { 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY' }
  local tiers = opts and opts.tiers or {}
  for _, t in ipairs(M.tiers) do
    local env = tiers[t] and tiers[t].api_key_env
    if type(env) == 'string' and not vim.tbl_contains(names, env) then
      names[#names + 1] = env
    end
  end
  return names
end

return M
