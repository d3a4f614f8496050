--[[
  Adds a count to the current minute bucket of one rule and returns the rule's window sum.
  Buckets come from Redis' clock so instances with skewed clocks count into the same buckets.
  The window sum is also kept in KEYS[2], so an evaluator tick reads one field per rule instead
  of every bucket (sum-counts-n.lua).

  KEYS[1] counts hash of the rule (bucket number -> count)
  KEYS[2] window sums hash (rule -> "sum:bucket", the rule's window sum as of that bucket)
  ARGV[1] count to add (positive integer)
  ARGV[2] minute length in ms
  ARGV[3] buckets to keep (longest window of any rule + 1); older fields are pruned
  ARGV[4] this rule's window in minutes
  ARGV[5] rule name (field in KEYS[2])

  Returns { window sum, now ms }
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minute = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local bucket = math.floor(now / minute)

redis.call('HINCRBY', KEYS[1], string.format('%d', bucket), ARGV[1])

-- At most keep + 1 fields live here, so this loop is bounded.
local sum = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local b = tonumber(fields[i])
  if b <= bucket - keep then
    redis.call('HDEL', KEYS[1], fields[i])
  elseif b > bucket - window then
    sum = sum + tonumber(fields[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], keep * minute)
redis.call('HSET', KEYS[2], ARGV[5], string.format('%d:%d', sum, bucket))
return { sum, now }
