--[[
  Adds and releases holds, starts and stops rules' clear-since clocks, keeps count of which
  dispatch queues are covered, and audits each change, all in one step: two instances racing
  produce one change and one audit entry.

  Cost: O(changes × queues) per call. Coverage and the alert-hold count are kept incrementally
  (±1 per pausing hold added or released); they are rebuilt from every hold (O(holds), once) only
  when the configured queues differ from the ones they were counted for, or were never counted,
  and the provider limits of a step that starts or ends a provider's probe or throttle are
  recomputed from every hold (O(holds), in that step only).
  The ledger sends large changes in bounded steps, so no call blocks Redis for long.

  KEYS[1] holds hash (id -> hold JSON)
  KEYS[2] covered hash (queue -> number of pausing holds covering it)
  KEYS[3] audit stream
  KEYS[4] changed-at string (ms, Redis clock; set only when a hold changed)
  KEYS[5] clear-since hash (rule -> ms, Redis clock)
  KEYS[6] hold index hash: queues (JSON of the queues KEYS[2] was counted for),
          alerts (alert holds, not counting the overflow hold)
  KEYS[7] overflow hash (alert hold id -> principal) of the alerts behind the overflow hold;
          field '*' once it is full: then only a release of the overflow hold itself ends it
  KEYS[8] covered-providers hash ('queue:provider' -> number of pausing provider holds covering it)
  KEYS[9] provider limits hash ('queue:provider' -> '<jobs>/<minute ms>', the tightest probe or
          throttle provider hold covering it): written in this step, so a provider released into a
          probe is never without its limit, not even for a moment
  KEYS[10] failovers hash (see guard-n.lua): 'held|queue:provider' counts that provider's jobs
          that ran on another candidate while it was held. Restarted when the target is newly held,
          taken (read and dropped) when it is left with no hold: a release's count is exactly the
          jobs failed over between the two commits, however late Slack hears of them.

  ARGV[1] JSON request:
    { queues: [configured dispatch queues], maxlen: n (audit stream MAXLEN ~), minuteMs: n,
      add: [hold], release: [{ id, by, reason, ifClear?, owner?, ifEffect? }],
      startClear: [rule], stopClear: [rule],
      overflow: { hold, cap, maxMembers }, rulesVersion?: n (the rules version that decided; audited) }
    Applied in this order:
    1. startClear: HSETNX rule -> now (a clock already running keeps its start).
    2. release: a release with ifClear = <rule> happens only while that rule still has a
       clear-since time, so a trip that raced the evaluator's decision (and stopped the clock)
       keeps the hold. A release with owner = <principal> happens only while the hold (or the
       alert's entry behind the overflow hold) was placed by that principal, so a hold another
       principal placed in the meantime stays. A release with ifEffect = <effect> happens only while
       the hold under that id still has that effect, so a probe's end never releases the pause a
       racing trip put in its place. Releasing an alert behind the overflow hold removes it from there; the
       last one out releases the overflow hold.
    3. add: an added hold whose id exists (or is behind the overflow hold) is left alone
       (idempotent). Releases run first, so one call can swap a hold's effect under the same id.
       An alert hold beyond `cap` alert holds joins the overflow hold instead (placing it first
       if absent); only that placement is a change.
    4. stopClear: HDEL rule.
    Only holds whose effect is 'pause' (or absent) cover anything; 'shadow', 'probe' and
    'throttle' holds are recorded and audited under their own event names. A hold with
    `providers` covers 'queue:provider' targets in KEYS[8] instead of whole queues in KEYS[2].

  Returns JSON { now, changes: [{ event, hold, by, reason, paused: [target], resumed: [target], auditId,
                                   failedOver? }] }
  (failedOver, audited as failed_over: jobs failed over from the resumed provider targets while held)
  (a target is a queue, or 'queue:provider' for a provider hold)
  event: hold-added | hold-released | would-pause | would-resume | probe-started | probe-ended |
         throttle-started | throttle-ended
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local req = cjson.decode(ARGV[1])
local HOLDS, COVERED, AUDIT, CHANGED, CLEAR, INDEX, OVERFLOW, PROVIDERS, LIMITS, FAILOVERS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local overflow = req.overflow

local EVENTS = {
  pause = { 'hold-added', 'hold-released' },
  shadow = { 'would-pause', 'would-resume' },
  probe = { 'probe-started', 'probe-ended' },
  throttle = { 'throttle-started', 'throttle-ended' },
}

local configured = {}
for _, q in ipairs(req.queues) do configured[q] = true end

local function effect(hold)
  if type(hold.effect) == 'string' and EVENTS[hold.effect] then return hold.effect end
  return 'pause'
end

local function isOverflow(hold)
  return overflow ~= nil and hold.id == overflow.hold.id
end

local function countsAsAlert(hold)
  return hold.kind == 'alert' and not isOverflow(hold)
end

local function scopeOf(hold)
  if hold.scope == 'all' then return req.queues end
  return hold.scope
end

-- The hash a hold counts in and the fields it covers there: whole queues, or 'queue:provider'.
local function coverage(hold)
  local queues = {}
  for _, q in ipairs(scopeOf(hold)) do
    if configured[q] then table.insert(queues, q) end
  end
  if type(hold.providers) ~= 'table' or #hold.providers == 0 then return COVERED, queues end
  local targets = {}
  for _, q in ipairs(queues) do
    for _, p in ipairs(hold.providers) do table.insert(targets, q .. ':' .. p) end
  end
  return PROVIDERS, targets
end

-- Rebuild the derived counts when they were counted for other queues (or never).
local basis = cjson.encode(req.queues)
if redis.call('HGET', INDEX, 'queues') ~= basis then
  local counted = { [COVERED] = {}, [PROVIDERS] = {} }
  local alerts = 0
  for _, raw in ipairs(redis.call('HVALS', HOLDS)) do
    local h = cjson.decode(raw)
    if effect(h) == 'pause' then
      local hash, targets = coverage(h)
      for _, target in ipairs(targets) do counted[hash][target] = (counted[hash][target] or 0) + 1 end
    end
    if countsAsAlert(h) then alerts = alerts + 1 end
  end
  for hash, counts in pairs(counted) do
    redis.call('DEL', hash)
    for target, n in pairs(counts) do redis.call('HSET', hash, target, n) end
  end
  redis.call('HSET', INDEX, 'queues', basis, 'alerts', alerts)
end

local changes = {}
local changed = false
-- 'queue:provider' targets whose probe or throttle holds changed: their limits are recomputed.
local limited = {}

local function isRate(hold)
  local e = effect(hold)
  return (e == 'probe' or e == 'throttle') and type(hold.providers) == 'table' and #hold.providers > 0
end

-- Moves the hold's targets' counts by delta; returns the targets that went from 0 to 1 / 1 to 0,
-- and the jobs failed over from the provider targets that went to 0 while they were held.
local function cover(hold, delta)
  local paused, resumed, failedOver = {}, {}, 0
  if effect(hold) ~= 'pause' then return paused, resumed, failedOver end
  local hash, targets = coverage(hold)
  for _, target in ipairs(targets) do
    local n = redis.call('HINCRBY', hash, target, delta)
    if delta > 0 and n == 1 then
      table.insert(paused, target)
      if hash == PROVIDERS then redis.call('HDEL', FAILOVERS, 'held|' .. target) end
    end
    if n <= 0 then
      redis.call('HDEL', hash, target)
      if delta < 0 then
        table.insert(resumed, target)
        if hash == PROVIDERS then
          failedOver = failedOver + tonumber(redis.call('HGET', FAILOVERS, 'held|' .. target) or '0')
          redis.call('HDEL', FAILOVERS, 'held|' .. target)
        end
      end
    end
  end
  return paused, resumed, failedOver
end

local function record(which, hold, by, reason)
  if isRate(hold) then
    local _, targets = coverage(hold)
    for _, target in ipairs(targets) do limited[target] = true end
  end
  local paused, resumed, failedOver = cover(hold, which == 1 and 1 or -1)
  if countsAsAlert(hold) then redis.call('HINCRBY', INDEX, 'alerts', which == 1 and 1 or -1) end
  changed = true
  local event = EVENTS[effect(hold)][which]
  local fields = { 'event', event, 'hold', hold.id, 'kind', hold.kind, 'by', by, 'reason', reason,
    'paused', table.concat(paused, ','), 'resumed', table.concat(resumed, ','),
    'at', string.format('%d', now), 'data', cjson.encode(hold), 'rules', string.format('%d', req.rulesVersion or 0) }
  if failedOver > 0 then
    table.insert(fields, 'failed_over')
    table.insert(fields, string.format('%d', failedOver))
  end
  local id = redis.call('XADD', AUDIT, 'MAXLEN', '~', req.maxlen, '*', unpack(fields))
  local change = { event = event, hold = hold, by = by, reason = reason, paused = paused, resumed = resumed, auditId = id }
  if failedOver > 0 then change.failedOver = failedOver end
  table.insert(changes, change)
end

local function release(id, by, reason)
  local raw = redis.call('HGET', HOLDS, id)
  if not raw then return end
  redis.call('HDEL', HOLDS, id)
  local hold = cjson.decode(raw)
  if isOverflow(hold) then redis.call('DEL', OVERFLOW) end
  record(2, hold, by, reason)
end

local function add(hold)
  hold.since = now
  redis.call('HSET', HOLDS, hold.id, cjson.encode(hold))
  record(1, hold, hold.by, hold.reason)
end

for _, rule in ipairs(req.startClear or {}) do
  redis.call('HSETNX', CLEAR, rule, string.format('%d', now))
end

local function ownedBy(id, owner)
  local raw = redis.call('HGET', HOLDS, id)
  if raw then return cjson.decode(raw).by == owner end
  local member = overflow and redis.call('HGET', OVERFLOW, id)
  if member then return member == owner end
  return true
end

local function hasEffect(id, wanted)
  local raw = redis.call('HGET', HOLDS, id)
  return raw == false or effect(cjson.decode(raw)) == wanted
end

for _, rel in ipairs(req.release or {}) do
  local blocked = (rel.ifClear and redis.call('HEXISTS', CLEAR, rel.ifClear) == 0)
    or (rel.owner and not ownedBy(rel.id, rel.owner))
    or (rel.ifEffect and not hasEffect(rel.id, rel.ifEffect))
  if not blocked then
    release(rel.id, rel.by, rel.reason)
    if overflow and rel.id ~= '*' and redis.call('HDEL', OVERFLOW, rel.id) == 1 and redis.call('HLEN', OVERFLOW) == 0 then
      release(overflow.hold.id, rel.by, 'the last alert behind the overflow hold ended: ' .. rel.reason)
    end
  end
end

for _, hold in ipairs(req.add or {}) do
  local held = redis.call('HEXISTS', HOLDS, hold.id) == 1
    or (overflow ~= nil and hold.kind == 'alert' and redis.call('HEXISTS', OVERFLOW, hold.id) == 1)
  if not held then
    local alerts = tonumber(redis.call('HGET', INDEX, 'alerts') or '0')
    if countsAsAlert(hold) and overflow and alerts >= overflow.cap then
      if redis.call('HLEN', OVERFLOW) < overflow.maxMembers then
        redis.call('HSET', OVERFLOW, hold.id, hold.by)
      else
        redis.call('HSET', OVERFLOW, '*', '1')
      end
      if redis.call('HEXISTS', HOLDS, overflow.hold.id) == 0 then add(overflow.hold) end
    else
      add(hold)
    end
  end
end

for _, rule in ipairs(req.stopClear or {}) do
  redis.call('HDEL', CLEAR, rule)
end

-- O(holds) once, and only in a step that started or ended a provider's probe or throttle.
if next(limited) ~= nil then
  local tightest = {}
  for _, raw in ipairs(redis.call('HVALS', HOLDS)) do
    local h = cjson.decode(raw)
    if isRate(h) and type(h.maxPerMinute) == 'number' then
      local _, targets = coverage(h)
      for _, target in ipairs(targets) do
        if limited[target] and (tightest[target] == nil or h.maxPerMinute < tightest[target]) then tightest[target] = h.maxPerMinute end
      end
    end
  end
  for target in pairs(limited) do
    if tightest[target] then
      redis.call('HSET', LIMITS, target, string.format('%d/%d', tightest[target], req.minuteMs))
    else
      redis.call('HDEL', LIMITS, target)
    end
  end
end

if changed then
  redis.call('SET', CHANGED, string.format('%d', now))
end

return cjson.encode({ now = now, changes = changes })
