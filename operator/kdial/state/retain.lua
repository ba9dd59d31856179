-- A completed campaign's contact data expires `retention` after completion, on Redis's own
-- clock, so it goes even while no operator runs. The first call records the completion (and
-- the final counts, which stay); every call sets the expiry from it again, so a changed
-- retention applies to the time already passed.
-- KEYS: finished, then every contact data key
-- ARGV: total, closed, retention ms
-- Returns when the data expires (ms since the epoch, Redis clock).
local raw = redis.call('GET', KEYS[1])
local at
if raw then
  at = cjson.decode(raw).at
else
  local t = redis.call('TIME')
  at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local record = {total = tonumber(ARGV[1]), closed = tonumber(ARGV[2]), at = at}
  redis.call('SET', KEYS[1], cjson.encode(record))
end
local expiry = at + tonumber(ARGV[3])
for k = 2, #KEYS do redis.call('PEXPIREAT', KEYS[k], expiry) end
return expiry
