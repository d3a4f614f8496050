--[[
  Publishes a rules version: checks the expected version, numbers the new one, makes it active,
  keeps it in the bounded history and audits it with its diff, all in one step. Two instances or
  two admins racing: one wins, the other is told the version moved.

  Cost: O(1) commands; the document is copied as a string, never decoded (a few hundred kB at
  most: the HTTP body limit bounds it).

  KEYS[1] active hash: version, hash, doc (the active version's document, JSON)
  KEYS[2] history list: documents, newest first, trimmed to ARGV[5]
  KEYS[3] audit stream

  ARGV[1] expected active version ('0': the store must be empty)
  ARGV[2] the new content's hash
  ARGV[3] the document without version and at: a JSON object '{"hash":…,"by":…,"source":…,"content":…}'
  ARGV[4] 'same-ok': a content whose hash equals the active one is not published again
  ARGV[5] versions kept in the history
  ARGV[6] audit stream MAXLEN (~)
  ARGV[7] audit: by
  ARGV[8] audit: reason
  ARGV[9] audit: data JSON (the diff); the script adds nothing to it
  Every version is audited, the first (an empty store seeded) too: its diff lists every rule added.

  Returns { 'published', version, at } | { 'stale', active version } | { 'same', active version }
]]
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return { 'stale', current } end
if ARGV[4] == 'same-ok' and redis.call('HGET', KEYS[1], 'hash') == ARGV[2] then return { 'same', current } end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local version = current + 1
local doc = string.format('{"version":%d,"at":%d,', version, now) .. string.sub(ARGV[3], 2)
redis.call('HSET', KEYS[1], 'version', version, 'hash', ARGV[2], 'doc', doc)
redis.call('LPUSH', KEYS[2], doc)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*',
  'event', 'rules-published', 'hold', '', 'kind', 'rules', 'by', ARGV[7], 'reason', ARGV[8],
  'paused', '', 'resumed', '', 'at', string.format('%d', now), 'data', ARGV[9], 'rules', version)
return { 'published', version, now }
