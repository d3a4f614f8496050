--[[
  Copies finished minutes of several counters from their minute buckets into their 24 h history
  rings (see history.ts): each ring is a string of slots of two u32 (minute number, count),
  written with BITFIELD. Writing a minute again sets the same value, so a copy never doubles.
  In Redis, not from the client: at 10,000 counters the client spent far longer encoding 30,000
  commands than Redis takes to run them.

  KEYS[2i-1]  counts hash of counter i (bucket number -> count)
  KEYS[2i]    history ring of counter i
  ARGV[1]     the minutes to copy, separated by spaces
  ARGV[2]     minutes in the ring
  ARGV[3]     the rings' time to live, ms

  A minute without a bucket is left alone (no counts, or copied before its bucket expired).
  Returns the number of counters written to.
]]
local minutes = {}
for m in string.gmatch(ARGV[1], '%d+') do minutes[#minutes + 1] = m end
if #minutes == 0 then return 0 end
local ring = tonumber(ARGV[2])
local size = ring * 8
local written = 0
for i = 1, #KEYS - 1, 2 do
  local values = redis.call('HMGET', KEYS[i], unpack(minutes))
  local args = {}
  for j, m in ipairs(minutes) do
    local v = values[j]
    if v then
      local slot = tonumber(m) % ring
      for _, a in ipairs({ 'SET', 'u32', '#' .. (slot * 2), m, 'SET', 'u32', '#' .. (slot * 2 + 1), v }) do args[#args + 1] = a end
    end
  end
  if #args > 0 then
    -- A ring grown slot by slot takes up to 1.7 times its size (Redis grows a string ahead of each
    -- write past its end); one written whole takes its size. Whole rings carry one byte past their
    -- slots, so a new ring, or one an earlier version grew, is written whole once, here.
    local len = redis.call('STRLEN', KEYS[i + 1])
    if len ~= size + 1 then
      local old = len > 0 and redis.call('GET', KEYS[i + 1]) or ''
      redis.call('SET', KEYS[i + 1], string.sub(old, 1, size) .. string.rep('\0', size + 1 - math.min(len, size)))
    end
    redis.call('BITFIELD', KEYS[i + 1], unpack(args))
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[3])
    written = written + 1
  end
end
return written
