--[[
  Claims an Idempotency-Key for one request, within its principal's quota of live keys.

  KEYS[1]  the key's answer (string): '' while its request runs, then the answer's JSON
  KEYS[2]  the principal's quota (hash): bucket number -> keys claimed in that bucket
  ARGV[1]  how long a claim without an answer lasts (ms)
  ARGV[2]  the most keys a principal may claim over the answers' lifetime
  ARGV[3]  one bucket's length (ms); the quota sums the last 7 buckets (they cover the lifetime)

  Returns {1} claimed, {2, answer} answered before, {3} in progress, {4} quota full.
  Why a quota: every new key is stored for its lifetime, so unique keys from one principal
  would otherwise grow Redis without bound. A refused request stores nothing.
  Cost: O(1): the quota hash holds at most 8 buckets (older ones are dropped on each claim).
]]
local stored = redis.call('GET', KEYS[1])
if stored then
  if stored == '' then return {3} end
  return {2, stored}
end

local t = redis.call('TIME')
local bucketMs = tonumber(ARGV[3])
local bucket = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / bucketMs)
local live = 0
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields, 2 do
  local b = tonumber(fields[i])
  if b == nil or b < bucket - 6 then
    redis.call('HDEL', KEYS[2], fields[i])
  else
    live = live + tonumber(fields[i + 1])
  end
end
if live >= tonumber(ARGV[2]) then return {4} end

redis.call('SET', KEYS[1], '', 'PX', ARGV[1])
redis.call('HINCRBY', KEYS[2], bucket, 1)
redis.call('PEXPIRE', KEYS[2], bucketMs * 8)
return {1}
