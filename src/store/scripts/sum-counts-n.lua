--[[
  Reads the window sums of several rules against Redis' clock. Each rule's sum was kept by
  record-n.lua as of its last count; buckets that left the window since are subtracted (at most
  one per elapsed minute), so a call costs O(rules), not O(rules x window). A sum kept for another
  window (a rules version changed it) is added up again from the buckets, once.

  KEYS[1]     window sums hash (counter -> "sum:bucket:window")
  KEYS[i+1]   counts hash of counter i (bucket number -> count); its name follows the prefix
  ARGV[1]     minute length in ms
  ARGV[2]     length of the counts hashes' prefix (the counter's name is the rest of its key)
  ARGV[3]     each counter's window in minutes, separated by spaces

  The names and windows ride in the keys and one string: a tick at 10,000 rules sends them every
  time, and three arguments per counter cost more to encode than the script takes to run.

  Returns { now ms, sum 1, sum 2, ... }; writes the advanced sums back to KEYS[1].
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucket = math.floor(now / tonumber(ARGV[1]))
local n = #KEYS - 1
local out = { now }
if n == 0 then return out end
-- One read of every kept sum and one write of those that moved: a call per rule cost more than the rule.
local skip = tonumber(ARGV[2]) + 1
local names, windows = {}, {}
for i = 1, n do names[i] = string.sub(KEYS[i + 1], skip) end
for w in string.gmatch(ARGV[3], '%d+') do windows[#windows + 1] = tonumber(w) end
if #windows ~= n then return redis.error_reply('sum-counts: ' .. #windows .. ' windows for ' .. n .. ' counters') end
local kept = redis.call('HMGET', KEYS[1], unpack(names))
local moved = {}
for i = 1, n do
  local counts = KEYS[i + 1]
  local window = windows[i]
  local sum, at
  if kept[i] then
    local s, a, w = string.match(kept[i], '^(%d+):(%d+):(%d+)$')
    if tonumber(w) == window then sum, at = tonumber(s), tonumber(a) end
  end
  if sum == nil or at > bucket then
    -- No kept sum for this window (none yet, kept by an older version, or the window changed) or
    -- a clock that went back: add the buckets up once.
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
  if at ~= bucket then
    moved[#moved + 1] = names[i]
    moved[#moved + 1] = string.format('%d:%d:%d', sum, bucket, window)
  end
  out[i + 1] = sum
end
if #moved > 0 then redis.call('HSET', KEYS[1], unpack(moved)) end
return out
