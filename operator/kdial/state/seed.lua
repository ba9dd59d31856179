-- Takes contacts from a list into a campaign, once each, due now (Redis clock).
-- KEYS: known, due, epoch, closed, retired, finished, then the other contact data keys
-- ARGV: epoch-if-new, contact ids...
-- Returns how many contacts were new to the campaign, or -1 when the campaign finished and
-- its contact data expired: it never takes its list again, which would call everyone anew.
-- Idempotent: re-seeding adds nothing. A contact retired closed (its list was switched away
-- and back) comes back closed, never due.
if redis.call('EXISTS', KEYS[6]) == 1 and redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[3], ARGV[1], 'NX')
local added = 0
for i = 2, #ARGV do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    local outcome = redis.call('HGET', KEYS[5], ARGV[i])
    if outcome then
      redis.call('HDEL', KEYS[5], ARGV[i])
      redis.call('HSET', KEYS[4], ARGV[i], outcome)
    else
      redis.call('ZADD', KEYS[2], now, ARGV[i])
      added = added + 1
    end
  end
end
if added > 0 then
  -- Contacts to call again: the campaign is no longer finished, its data no longer expires.
  redis.call('DEL', KEYS[6])
  for k = 1, #KEYS do
    if k ~= 3 and k ~= 6 then redis.call('PERSIST', KEYS[k]) end
  end
end
return added
