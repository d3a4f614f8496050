--[[
  Adds and releases holds, starts and stops rules' clear-since clocks, recomputes which dispatch
  queues are covered, and audits each change, all in one step: two instances racing produce one
  change and one audit entry.

  KEYS[1] holds hash (id -> hold JSON)
  KEYS[2] covered hash (queue -> number of pausing holds covering it)
  KEYS[3] audit stream
  KEYS[4] changed-at string (ms, Redis clock; set only when a hold changed)
  KEYS[5] clear-since hash (rule -> ms, Redis clock)

  ARGV[1] JSON request:
    { queues: [configured dispatch queues], maxlen: n (audit stream MAXLEN ~),
      add: [hold], release: [{ id, by, reason, ifClear? }],
      startClear: [rule], stopClear: [rule] }
    Applied in this order:
    1. startClear: HSETNX rule -> now (a clock already running keeps its start).
    2. release: a release with ifClear = <rule> happens only while that rule still has a
       clear-since time, so a trip that raced the evaluator's decision (and stopped the clock)
       keeps the hold.
    3. add: an added hold whose id exists is left alone (idempotent). Releases run first, so one
       call can swap a hold's effect under the same id.
    4. stopClear: HDEL rule.
    Only holds whose effect is 'pause' (or absent) cover queues; 'shadow' and 'probe' holds are
    recorded and audited under their own event names.

  Returns JSON { now, changes: [{ event, hold, by, reason, paused: [queue], resumed: [queue], auditId }] }
  event: hold-added | hold-released | would-pause | would-resume | probe-started | probe-ended
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local req = cjson.decode(ARGV[1])

local EVENTS = {
  pause = { 'hold-added', 'hold-released' },
  shadow = { 'would-pause', 'would-resume' },
  probe = { 'probe-started', 'probe-ended' },
}

local function effect(hold)
  if type(hold.effect) == 'string' and EVENTS[hold.effect] then return hold.effect end
  return 'pause'
end

local function coverage()
  local covered = {}
  local values = redis.call('HVALS', KEYS[1])
  for _, raw in ipairs(values) do
    local h = cjson.decode(raw)
    if effect(h) == 'pause' then
      local scope = h.scope
      if scope == 'all' then scope = req.queues end
      for _, q in ipairs(scope) do covered[q] = (covered[q] or 0) + 1 end
    end
  end
  return covered
end

local function diff(before, after)
  local paused, resumed = {}, {}
  for _, q in ipairs(req.queues) do
    if (after[q] or 0) > 0 and (before[q] or 0) == 0 then table.insert(paused, q) end
    if (after[q] or 0) == 0 and (before[q] or 0) > 0 then table.insert(resumed, q) end
  end
  return paused, resumed
end

local changes = {}
local current = coverage()

local function record(which, hold, by, reason)
  local after = coverage()
  local paused, resumed = diff(current, after)
  current = after
  local event = EVENTS[effect(hold)][which]
  local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', req.maxlen, '*',
    'event', event, 'hold', hold.id, 'kind', hold.kind, 'by', by, 'reason', reason,
    'paused', table.concat(paused, ','), 'resumed', table.concat(resumed, ','),
    'at', string.format('%d', now), 'data', cjson.encode(hold))
  table.insert(changes, { event = event, hold = hold, by = by, reason = reason, paused = paused, resumed = resumed, auditId = id })
end

for _, rule in ipairs(req.startClear or {}) do
  redis.call('HSETNX', KEYS[5], rule, string.format('%d', now))
end

for _, rel in ipairs(req.release or {}) do
  local raw = redis.call('HGET', KEYS[1], rel.id)
  local blocked = rel.ifClear and redis.call('HEXISTS', KEYS[5], rel.ifClear) == 0
  if raw and not blocked then
    redis.call('HDEL', KEYS[1], rel.id)
    record(2, cjson.decode(raw), rel.by, rel.reason)
  end
end

for _, hold in ipairs(req.add or {}) do
  if redis.call('HEXISTS', KEYS[1], hold.id) == 0 then
    hold.since = now
    redis.call('HSET', KEYS[1], hold.id, cjson.encode(hold))
    record(1, hold, hold.by, hold.reason)
  end
end

for _, rule in ipairs(req.stopClear or {}) do
  redis.call('HDEL', KEYS[5], rule)
end

if #changes > 0 then
  redis.call('DEL', KEYS[2])
  for _, q in ipairs(req.queues) do
    if (current[q] or 0) > 0 then redis.call('HSET', KEYS[2], q, current[q]) end
  end
  redis.call('SET', KEYS[4], string.format('%d', now))
end

return cjson.encode({ now = now, changes = changes })
