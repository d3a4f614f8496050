--[[
  Moves a stream read position forward, never back: two instances relaying the same entries
  may finish in either order.

  KEYS[1] the position (string: a stream entry id, "ms-seq")
  ARGV[1] the entry id reached

  Returns 1 if the position moved, 0 if it was already there or past it.
]]
local function parse(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  return tonumber(ms or '0'), tonumber(seq or '0')
end
local cms, cseq = parse(redis.call('GET', KEYS[1]))
local nms, nseq = parse(ARGV[1])
if nms > cms or (nms == cms and nseq > cseq) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
