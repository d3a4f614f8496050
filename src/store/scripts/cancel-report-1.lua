--[[
  Cancels a report that was enqueued but answered "Redis unavailable": its id goes into the
  counted-reports set, so when its job runs later record-n.lua adds nothing. Sent on the same
  connection right behind the enqueue, so Redis runs it before any worker can have counted a job
  that landed late.

  A cancellation also leaves 'cancelled:<id>' beside the id, so running this again (a client
  resending the call after a reconnect) still answers "cancelled", not "counted": the report was
  answered unavailable and never counted, and a 202 for it would lose it.

  KEYS[1]  counted reports (sorted set: report id -> ms), as in record-n.lua
  ARGV[1]  report id (as record-n.lua receives it, e.g. "job:<job id>")
  ARGV[2]  how long report ids are remembered, ms

  Returns 1 if cancelled (now or by an earlier run of this call; it will never be counted), 0 if
  it was counted already.
]]
local id, marker = ARGV[1], 'cancelled:' .. ARGV[1]
if redis.call('ZSCORE', KEYS[1], marker) then return 1 end
if redis.call('ZSCORE', KEYS[1], id) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, id, now, marker)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
