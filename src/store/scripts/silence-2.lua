--[[
  Adds, ends and expires silences, each audited in the same step.

  Cost: add and end O(1); expire O(silences), at most the cap (100).

  KEYS[1] silences hash (id -> silence JSON)
  KEYS[2] audit stream

  ARGV[1] 'add' | 'end' | 'expire'
  ARGV[2] audit stream MAXLEN (~)
  add:    ARGV[3] silence JSON (its `since` is set here, Redis clock), ARGV[4] the cap
  end:    ARGV[3] id, ARGV[4] by, ARGV[5] reason
  expire: nothing more; every silence whose until has passed ends (by callguard)

  Returns JSON { now, status: 'added' | 'ended' | 'full' | 'missing' | 'expired', silences: [silence] }
  (the silences added or ended; 'full': the cap is reached, nothing added)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local SILENCES, AUDIT = KEYS[1], KEYS[2]
local op, maxlen = ARGV[1], ARGV[2]

local function audit(event, silence, by, reason)
  redis.call('XADD', AUDIT, 'MAXLEN', '~', maxlen, '*',
    'event', event, 'hold', '', 'kind', 'silence', 'by', by, 'reason', reason,
    'paused', '', 'resumed', '', 'at', string.format('%d', now), 'data', cjson.encode(silence))
end

local function reply(status, list)
  if #list == 0 then return string.format('{"now":%d,"status":"%s","silences":[]}', now, status) end
  return cjson.encode({ now = now, status = status, silences = list })
end

if op == 'add' then
  if redis.call('HLEN', SILENCES) >= tonumber(ARGV[4]) then return reply('full', {}) end
  local s = cjson.decode(ARGV[3])
  s.since = now
  redis.call('HSET', SILENCES, s.id, cjson.encode(s))
  audit('silence-added', s, s.by, s.reason)
  return reply('added', { s })
elseif op == 'end' then
  local raw = redis.call('HGET', SILENCES, ARGV[3])
  if not raw then return reply('missing', {}) end
  redis.call('HDEL', SILENCES, ARGV[3])
  local s = cjson.decode(raw)
  audit('silence-ended', s, ARGV[4], ARGV[5])
  return reply('ended', { s })
else
  local ended = {}
  local all = redis.call('HGETALL', SILENCES)
  for i = 1, #all, 2 do
    local s = cjson.decode(all[i + 1])
    if tonumber(s['until']) <= now then
      redis.call('HDEL', SILENCES, all[i])
      audit('silence-ended', s, 'callguard', 'until ' .. s['until'] .. ' passed')
      table.insert(ended, s)
    end
  end
  return reply('expired', ended)
end
