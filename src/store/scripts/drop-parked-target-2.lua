--[[
  Drops a 'queue:provider' target from the parked index, but only while nothing is parked for it:
  checked and dropped in one step, so a job parked in between keeps its target listed.

  KEYS[1] parked jobs of the target (sorted set)
  KEYS[2] parked index (set of targets)
  ARGV[1] the target
  Returns 1 if dropped, 0 if jobs are parked for it.
]]
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
return redis.call('SREM', KEYS[2], ARGV[1])
