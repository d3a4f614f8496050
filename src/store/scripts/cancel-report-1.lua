--[[
  Cancels a report that was enqueued but answered "Redis unavailable": its id goes into the
  counted-reports set, so when its job runs later record-n.lua adds nothing. Sent on the same
  connection right behind the enqueue, so Redis runs it before any worker can have counted a job
  that landed late.

  KEYS[1]  counted reports (sorted set: report id -> ms), as in record-n.lua
  ARGV[1]  report id (as record-n.lua receives it, e.g. "job:<job id>")
  ARGV[2]  how long report ids are remembered, ms

  Returns 1 if cancelled now (it will never be counted), 0 if it was counted already.
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
