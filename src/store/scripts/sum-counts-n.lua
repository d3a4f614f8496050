--[[
  Reads the window sums of several rules against Redis' clock. Each rule's sum was kept by
  record-2.lua as of its last count; buckets that left the window since are subtracted (at most
  one per elapsed minute), so a call costs O(rules), not O(rules x window).

  KEYS[1]     window sums hash (rule -> "sum:bucket")
  KEYS[i+1]   counts hash of rule i (bucket number -> count)
  ARGV[1]     minute length in ms
  ARGV[2i]    name of rule i
  ARGV[2i+1]  window in minutes of rule i

  Returns { now ms, sum 1, sum 2, ... }; writes the advanced sums back to KEYS[1].
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucket = math.floor(now / tonumber(ARGV[1]))
local out = { now }
for i = 1, #KEYS - 1 do
  local counts = KEYS[i + 1]
  local rule = ARGV[2 * i]
  local window = tonumber(ARGV[2 * i + 1])
  local kept = redis.call('HGET', KEYS[1], rule)
  local sum, at
  if kept then
    local s, a = string.match(kept, '^(%d+):(%d+)$')
    sum, at = tonumber(s), tonumber(a)
  end
  if sum == nil or at > bucket then
    -- No kept sum (counted before sums were kept) or a clock that went back: add the buckets up once.
    sum = 0
    local fields = redis.call('HGETALL', counts)
    for j = 1, #fields, 2 do
      local b = tonumber(fields[j])
      if b > bucket - window and b <= bucket then sum = sum + tonumber(fields[j + 1]) end
    end
  elseif bucket - at >= window then
    sum = 0
  elseif at < bucket then
    local gone = {}
    for b = at - window + 1, bucket - window do gone[#gone + 1] = string.format('%d', b) end
    for _, v in ipairs(redis.call('HMGET', counts, unpack(gone))) do
      if v then sum = sum - tonumber(v) end
    end
  end
  if at ~= bucket then redis.call('HSET', KEYS[1], rule, string.format('%d:%d', sum, bucket)) end
  out[i + 1] = sum
end
return out
