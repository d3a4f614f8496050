--[[
  Reads the window sums of several rules against Redis' clock. Read-only.

  KEYS[i]   counts hash of rule i
  ARGV[1]   minute length in ms
  ARGV[i+1] window in minutes of rule i

  Returns { now ms, sum 1, sum 2, ... }
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucket = math.floor(now / tonumber(ARGV[1]))
local out = { now }
for i = 1, #KEYS do
  local window = tonumber(ARGV[i + 1])
  local sum = 0
  local fields = redis.call('HGETALL', KEYS[i])
  for j = 1, #fields, 2 do
    local b = tonumber(fields[j])
    if b > bucket - window and b <= bucket then
      sum = sum + tonumber(fields[j + 1])
    end
  end
  out[i + 1] = sum
end
return out
