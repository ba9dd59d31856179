-- Takes contacts from a list into a campaign, once each, due now (Redis clock).
-- KEYS: known, due, epoch, closed, retired, finished, contacts, callees, the waits
--       (waits.lua), then the other contact data keys
-- ARGV: epoch-if-new, then (contact id, callee key or '') pairs
-- Returns how many contacts were new to the campaign, or -1 when the campaign finished and
-- its contact data expired: it never takes its list again, which would call everyone anew.
-- Idempotent: re-seeding adds nothing. Compliance follows the callee, not the id: a contact
-- the campaign knew by another id (its list was switched, or made again) inherits that
-- contact's history and comes in closed if it was closed; while that one is still in the
-- ledger (in a call), the new one waits for a later pass, so one person is never in two calls.
if redis.call('EXISTS', KEYS[6]) == 1 and redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local W = waits_at(9)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[3], ARGV[1], 'NX')
local added = 0
for i = 2, #ARGV, 2 do
  local id, callee = ARGV[i], ARGV[i + 1]
  local pred = callee ~= '' and redis.call('HGET', KEYS[8], callee) or false
  if pred == id then pred = false end
  local busy = pred and redis.call('SISMEMBER', KEYS[1], pred) == 1
  if not busy and redis.call('SADD', KEYS[1], id) == 1 then
    local outcome = redis.call('HGET', KEYS[5], id)
    if outcome then
      redis.call('HDEL', KEYS[5], id)
    elseif pred then
      outcome = redis.call('HGET', KEYS[5], pred)
      local history = redis.call('HGET', KEYS[7], pred)
      if history and redis.call('HEXISTS', KEYS[7], id) == 0 then
        redis.call('HSET', KEYS[7], id, history)
      end
    end
    if callee ~= '' then redis.call('HSET', KEYS[8], callee, id) end
    if outcome then
      redis.call('HSET', KEYS[4], id, outcome)
      closed_as(W, outcome, 1)
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
