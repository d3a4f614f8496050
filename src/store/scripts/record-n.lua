--[[
  Counts one report — one or several rules — exactly once: either every count is added or, when
  this report id was counted before (a job re-run after a crash, a resent batch), none is.
  Buckets come from Redis' clock so instances with skewed clocks count into the same buckets.
  Each rule's window sum is also kept in KEYS[2], so an evaluator tick reads one field per rule
  instead of every bucket (sum-counts-n.lua).

  KEYS[1]     counted reports (sorted set: report id -> ms counted), trimmed by age
  KEYS[2]     window sums hash (rule -> "sum:bucket:window", the rule's sum over that window as of that bucket)
  KEYS[i+2]   counts hash of rule i (bucket number -> count)
  ARGV[1]     report id ('' = no exactly-once check)
  ARGV[2]     how long report ids are remembered, ms
  ARGV[3]     minute length in ms
  ARGV[4]     buckets to keep (longest window of any rule + 1); older fields are pruned
  ARGV[3i+2]  name of rule i
  ARGV[3i+3]  count to add for rule i (a whole number; 0 only reads the window sum)
  ARGV[3i+4]  window in minutes of rule i

  Returns { now ms, 1 if counted now / 0 if counted before, window sum of rule 1, ... }
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local minute = tonumber(ARGV[3])
local keep = tonumber(ARGV[4])
local bucket = math.floor(now / minute)
local rules = #KEYS - 2

if id ~= '' then
  if redis.call('ZSCORE', KEYS[1], id) then
    local out = { now, 0 }
    for i = 1, rules do out[i + 2] = 0 end
    return out
  end
  -- Forget old ids a few at a time, so no call does unbounded work.
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, 20)
  if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)) end
  redis.call('ZADD', KEYS[1], now, id)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end

local out = { now, 1 }
for i = 1, rules do
  local counts = KEYS[i + 2]
  local rule = ARGV[3 * i + 2]
  local window = tonumber(ARGV[3 * i + 4])
  redis.call('HINCRBY', counts, string.format('%d', bucket), ARGV[3 * i + 3])
  -- At most keep + 1 fields live here, so this loop is bounded.
  local sum = 0
  local fields = redis.call('HGETALL', counts)
  for j = 1, #fields, 2 do
    local b = tonumber(fields[j])
    if b <= bucket - keep then
      redis.call('HDEL', counts, fields[j])
    elseif b > bucket - window then
      sum = sum + tonumber(fields[j + 1])
    end
  end
  redis.call('PEXPIRE', counts, keep * minute)
  redis.call('HSET', KEYS[2], rule, string.format('%d:%d:%d', sum, bucket, window))
  out[i + 2] = sum
end
return out
