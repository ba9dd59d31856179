-- Takes contacts from a list into a campaign, once each, due now (Redis clock).
-- KEYS: known, due, epoch, closed, retired, finished, contacts, then the other contact data
-- ARGV: epoch-if-new, then (contact id, predecessor id or '') pairs. A predecessor is the same
--       number's id under the list the campaign dialled before (spec.contactListRef changed).
-- Returns how many contacts were new to the campaign, or -1 when the campaign finished and
-- its contact data expired: it never takes its list again, which would call everyone anew.
-- Idempotent: re-seeding adds nothing. Compliance follows the callee across lists: a contact
-- retired closed (its list was switched away and back), or whose predecessor was, comes back
-- closed; one whose predecessor has attempts inherits its history; one whose predecessor is
-- still in a call is left for a later pass.
if redis.call('EXISTS', KEYS[6]) == 1 and redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[3], ARGV[1], 'NX')
local added = 0
for i = 2, #ARGV, 2 do
  local id, pred = ARGV[i], ARGV[i + 1]
  local busy = pred ~= '' and redis.call('SISMEMBER', KEYS[1], pred) == 1
  if not busy and redis.call('SADD', KEYS[1], id) == 1 then
    local outcome = redis.call('HGET', KEYS[5], id)
    if outcome then
      redis.call('HDEL', KEYS[5], id)
    elseif pred ~= '' then
      outcome = redis.call('HGET', KEYS[5], pred)
      local history = redis.call('HGET', KEYS[7], pred)
      if history and redis.call('HEXISTS', KEYS[7], id) == 0 then
        redis.call('HSET', KEYS[7], id, history)
      end
    end
    if outcome then
      redis.call('HSET', KEYS[4], id, outcome)
    else
      redis.call('ZADD', KEYS[2], now, id)
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
