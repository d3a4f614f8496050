--[[
  A guarded worker's check before it runs one dispatch job: is the queue held, is the job's
  provider held, and — while a probe or throttle limits the provider — is there room in the last
  minute's calls across every worker (a sliding log on Redis' clock: never more than the limit in
  any minute). Taking the slot is part of the check, so two workers cannot both take the last one.

  KEYS[1] covered hash (queue -> pausing holds)
  KEYS[2] covered-providers hash ('queue:provider' -> pausing provider holds)
  KEYS[3] provider limits hash ('queue:provider' -> '<jobs>/<minute ms>'; the server's minute)
  KEYS[4] rate log of this 'queue:provider' (sorted set: member -> ms let through)
  ARGV[1] queue
  ARGV[2] 'queue:provider', or '' for a job without a provider
  ARGV[3] a member unique to this attempt

  Returns { verdict, wait ms, minute ms }: 0 run, 1 queue held, 2 provider held, 3 no room yet
  (wait ms until the oldest call in the log leaves the minute; the minute the limit is counted
  in). Work is bounded by the limit (the log's size).
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return { 1, 0 } end
local target = ARGV[2]
if target == '' then return { 0, 0 } end
if redis.call('HEXISTS', KEYS[2], target) == 1 then return { 2, 0 } end
local spec = redis.call('HGET', KEYS[3], target)
if not spec then return { 0, 0 } end
local jobs, ms = string.match(spec, '^(%d+)/(%d+)$')
local limit, minute = tonumber(jobs), tonumber(ms)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - minute)
if redis.call('ZCARD', KEYS[4]) < limit then
  redis.call('ZADD', KEYS[4], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[4], minute)
  return { 0, 0 }
end
local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
return { 3, math.max(1, tonumber(oldest[2]) + minute - now), minute }
