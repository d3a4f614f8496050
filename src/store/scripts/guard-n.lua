--[[
  Guarded workers' checks before they run dispatch jobs (and the Python client's `choose`), one
  or more jobs a call: for each job, is its queue held, and which of its candidate providers, in
  its order of preference, is not held and has room under its limits — the probe or throttle on
  'queue:provider' (per minute) and the provider's capacity (per second, across every queue). Both
  are sliding logs on Redis' clock shared by every worker; taking the slot is part of the check,
  so two workers can never both take the last one. A worker sends the jobs it fetched in one turn
  together: one call instead of one per job. The jobs are answered in order, each as if alone.

  Candidates a job's calls already failed on (its "tried" set) come after the others, in their order.

  KEYS[1] covered hash (queue -> pausing holds)
  KEYS[2] covered-providers hash ('queue:provider' -> pausing provider holds)
  KEYS[3] provider limits hash ('queue:provider' -> '<jobs>/<minute ms>')
  KEYS[4] capacities hash (provider -> '<calls>/<ms>')
  KEYS[5] failovers hash ('queue|from|to' -> jobs, 'held|queue:from' -> jobs, 'route|queue:from' -> 'to,…')
  then per route (a queue and a candidate list the call's jobs share), in the routes' order: per
    candidate its rate log ('queue:provider') and its capacity log; then, in the jobs' order, the
    providers each job of a route with several candidates failed on (a set; absent for a first attempt)
  ARGV: the number of routes, then per route: queue, '1' to note the candidates after the first as
    its route (a worker sends it once per list), the number of candidates n (at most 8), the n
    candidates, most preferred first; then per job: its route's number (from 1) and a member
    unique to this attempt. The jobs of one route share its keys, so a worker's call for six jobs
    of one provider sends two keys for them, not eighteen.

  Returns per job { verdict, wait ms, minute ms, chosen, held }, one flat list:
    0 run on candidate number `chosen` (0: the job has no candidates);
    1 the queue is held;
    2 park: no candidate can run and `held` (a bit per candidate, 1 = the first) are held;
    3 no room yet: none is held, each is full; wait ms until the soonest has room (minute ms: the
      period of that limit, to spread waiters over).
  Work: O(jobs × candidates), each bounded by its limit (the logs' sizes); callers send at most
  64 jobs a call.
]]
local COVERED, PROVIDERS, LIMITS, CAPACITIES, FAILOVERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

-- The hashes' fields, read once a call: every job of a call asks about the same few.
local function memo(command, hash)
  local seen = {}
  return function(field)
    local v = seen[field]
    if v == nil then
      v = redis.call(command, hash, field)
      seen[field] = v
    end
    return v
  end
end
local queueHeld, providerHeld = memo('HEXISTS', COVERED), memo('HEXISTS', PROVIDERS)
local limitOf, capacityOf = memo('HGET', LIMITS), memo('HGET', CAPACITIES)

local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end

-- The limits on a route's candidate i, worked out once a call: { key, calls, period } for its
-- probe or throttle and its capacity.
local function limitsOf(route, i)
  local limits = route.limits[i]
  if limits then return limits end
  limits = {}
  local candidate = route.candidates[i]
  local specs = { limitOf(route.targets[i]), capacityOf(candidate) }
  for k = 1, 2 do
    if specs[k] then
      local calls, ms = string.match(specs[k], '^(%d+)/(%d+)$')
      table.insert(limits, { key = KEYS[route.key + 2 * (i - 1) + k - 1], calls = tonumber(calls), period = tonumber(ms) })
    end
  end
  route.limits[i] = limits
  return limits
end

local FIRST_ONLY = { 1 }

-- One job of `route`, answered as five values; `tried` is its failed-on set's key (routes with
-- several candidates).
local function check(route, member, tried)
  local queue, candidates, targets = route.queue, route.candidates, route.targets
  local n = #candidates
  if queueHeld(queue) == 1 then return 1, 0, 0, 0, 0 end
  if n == 0 then return 0, 0, 0, 0, 0 end
  if route.register == '1' and n > 1 and not route.registered then
    redis.call('HSET', FAILOVERS, 'route|' .. targets[1], table.concat(candidates, ',', 2))
    route.registered = true
  end

  -- Preference order, with the candidates this job already failed on last.
  local order = FIRST_ONLY
  if n > 1 then
    order = {}
    local failed = {}
    for _, p in ipairs(redis.call('SMEMBERS', tried)) do failed[p] = true end
    for i = 1, n do if not failed[candidates[i]] then table.insert(order, i) end end
    for i = 1, n do if failed[candidates[i]] then table.insert(order, i) end end
  end

  local held, soonest, soonestPeriod = 0, nil, nil
  for _, i in ipairs(order) do
    if providerHeld(targets[i]) == 1 then
      held = held + 2 ^ (i - 1)
    else
      -- Room only if every limit on it has room; none is taken unless all have.
      local wait, period = 0, nil
      local limits = limitsOf(route, i)
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
          -- Read here, not from `held`: a job that failed on its first candidate tries it last (memoised).
          if providerHeld(targets[1]) == 1 then redis.call('HINCRBY', FAILOVERS, 'held|' .. targets[1], 1) end
        end
        return 0, 0, 0, i, held
      end
      if not soonest or wait < soonest then soonest, soonestPeriod = wait, period end
    end
  end
  if held > 0 or not soonest then return 2, 0, 0, 0, held end
  return 3, soonest, soonestPeriod, 0, 0
end

-- The call's shape first, so a malformed call changes nothing.
local function malformed(at) return redis.error_reply('malformed guard request at ARGV[' .. at .. ']') end
if not tonumber(ARGV[1]) then return malformed(1) end
local routes = {}
local at, key = 2, 6
for r = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[at + 2])
  if not n or n < 0 or at + 2 + n > #ARGV then return malformed(at) end
  if n > 8 then return redis.error_reply('at most 8 candidate providers per job') end
  local queue, candidates, targets = ARGV[at], {}, {}
  for i = 1, n do
    candidates[i] = ARGV[at + 2 + i]
    targets[i] = queue .. ':' .. candidates[i]
  end
  routes[r] = { queue = queue, register = ARGV[at + 1], candidates = candidates, targets = targets, key = key, limits = {} }
  at = at + 3 + n
  key = key + 2 * n
end
local jobs = {}
while at <= #ARGV do
  local route = routes[tonumber(ARGV[at])]
  if not route or at + 1 > #ARGV then return malformed(at) end
  local tried = nil
  if #route.candidates > 1 then
    tried = KEYS[key]
    key = key + 1
  end
  table.insert(jobs, { route = route, member = ARGV[at + 1], tried = tried })
  at = at + 2
end
if #jobs > 64 then return redis.error_reply('at most 64 jobs per guard call') end
if key - 1 ~= #KEYS then return redis.error_reply('guard: ' .. #KEYS .. ' keys for ' .. (key - 1) .. ' expected') end

local out = {}
for k, j in ipairs(jobs) do
  local at = 5 * (k - 1)
  out[at + 1], out[at + 2], out[at + 3], out[at + 4], out[at + 5] = check(j.route, j.member, j.tried)
end
return out
