--[[
  A guarded worker's check before it runs one dispatch job (and the Python client's `choose`):
  is the queue held, and which of the job's candidate providers, in its order of preference,
  is not held and has room under its limits — the probe or throttle on 'queue:provider' (per
  minute) and the provider's capacity (per second, across every queue). Both are sliding logs on
  Redis' clock shared by every worker; taking the slot is part of the check, so two workers can
  never both take the last one.

  Candidates this job's calls already failed on (KEYS[6]) come after the others, in their order.

  KEYS[1] covered hash (queue -> pausing holds)
  KEYS[2] covered-providers hash ('queue:provider' -> pausing provider holds)
  KEYS[3] provider limits hash ('queue:provider' -> '<jobs>/<minute ms>')
  KEYS[4] capacities hash (provider -> '<calls>/<ms>')
  KEYS[5] failovers hash ('queue|from|to' -> jobs, 'held|queue:from' -> jobs, 'route|queue:from' -> 'to,…')
  KEYS[6] the providers this job failed on (set; absent for a first attempt)
  KEYS[7 + 2(i-1)], KEYS[8 + 2(i-1)]: candidate i's rate log ('queue:provider') and capacity log
  ARGV[1] queue
  ARGV[2] a member unique to this attempt
  ARGV[3] '1' to note the candidates after the first as its route (the worker sends it once per list)
  ARGV[4…] the candidates, most preferred first (at most 8)

  Returns { verdict, wait ms, minute ms, chosen, held }:
    0 run on candidate number `chosen` (0: the job has no candidates);
    1 the queue is held;
    2 park: no candidate can run and `held` (a bit per candidate, 1 = the first) are held;
    3 no room yet: none is held, each is full; wait ms until the soonest has room (minute ms: the
      period of that limit, to spread waiters over).
  Work: O(candidates), each bounded by its limit (the logs' sizes).
]]
local COVERED, PROVIDERS, LIMITS, CAPACITIES, FAILOVERS, TRIED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local queue, member, register = ARGV[1], ARGV[2], ARGV[3]
local n = #ARGV - 3
if n > 8 then return redis.error_reply('at most 8 candidate providers per job') end
if redis.call('HEXISTS', COVERED, queue) == 1 then return { 1, 0, 0, 0, 0 } end
if n == 0 then return { 0, 0, 0, 0, 0 } end

local candidates = {}
for i = 1, n do candidates[i] = ARGV[3 + i] end
if register == '1' and n > 1 then
  redis.call('HSET', FAILOVERS, 'route|' .. queue .. ':' .. candidates[1], table.concat(candidates, ',', 2))
end

-- Preference order, with the candidates this job already failed on last.
local order = {}
local failed = {}
if n > 1 then
  for _, p in ipairs(redis.call('SMEMBERS', TRIED)) do failed[p] = true end
end
for i = 1, n do if not failed[candidates[i]] then table.insert(order, i) end end
for i = 1, n do if failed[candidates[i]] then table.insert(order, i) end end

local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end

-- The limits on a candidate: { key, calls, period } for its probe or throttle and its capacity.
local function limitsOf(i)
  local out = {}
  local specs = { redis.call('HGET', LIMITS, queue .. ':' .. candidates[i]), redis.call('HGET', CAPACITIES, candidates[i]) }
  for k = 1, 2 do
    if specs[k] then
      local calls, ms = string.match(specs[k], '^(%d+)/(%d+)$')
      table.insert(out, { key = KEYS[6 + 2 * (i - 1) + k], calls = tonumber(calls), period = tonumber(ms) })
    end
  end
  return out
end

local held, soonest, soonestPeriod = 0, nil, nil
for _, i in ipairs(order) do
  if redis.call('HEXISTS', PROVIDERS, queue .. ':' .. candidates[i]) == 1 then
    held = held + 2 ^ (i - 1)
  else
    -- Room only if every limit on it has room; none is taken unless all have.
    local wait, period = 0, nil
    local limits = limitsOf(i)
    for _, l in ipairs(limits) do
      redis.call('ZREMRANGEBYSCORE', l.key, '-inf', clock() - l.period)
      if redis.call('ZCARD', l.key) >= l.calls then
        local oldest = redis.call('ZRANGE', l.key, 0, 0, 'WITHSCORES')
        local w = math.max(1, tonumber(oldest[2]) + l.period - clock())
        if w > wait then wait, period = w, l.period end
      end
    end
    if wait == 0 then
      for _, l in ipairs(limits) do
        redis.call('ZADD', l.key, clock(), member)
        redis.call('PEXPIRE', l.key, l.period)
      end
      if i ~= 1 then
        redis.call('HINCRBY', FAILOVERS, queue .. '|' .. candidates[1] .. '|' .. candidates[i], 1)
        if held % 2 == 1 then redis.call('HINCRBY', FAILOVERS, 'held|' .. queue .. ':' .. candidates[1], 1) end
      end
      return { 0, 0, 0, i, held }
    end
    if not soonest or wait < soonest then soonest, soonestPeriod = wait, period end
  end
end
if held > 0 or not soonest then return { 2, 0, 0, 0, held } end
return { 3, soonest, soonestPeriod, 0, 0 }
