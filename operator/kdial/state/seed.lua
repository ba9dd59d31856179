-- Takes contacts from a list into a campaign, once each, due now (Redis clock).
-- KEYS: known, due, epoch    ARGV: epoch-if-new, contact ids...
-- Returns how many contacts were new to the campaign. Idempotent: re-seeding adds nothing.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[3], ARGV[1], 'NX')
local added = 0
for i = 2, #ARGV do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], now, ARGV[i])
    added = added + 1
  end
end
return added
