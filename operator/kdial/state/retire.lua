-- Takes contacts of a list the campaign no longer dials (spec.contactListRef changed) out of
-- its ledger: a pending one is dropped (never dialled again), a closed one moves to `retired`
-- with its outcome; its history stays in `contacts`. One in flight is left to end and is
-- retired by a later call. The campaign is no longer finished: its data stops expiring.
-- KEYS: known, due, closed, retired, finished, the waits (waits.lua), then every contact data
--       key
-- ARGV: ids no longer in the campaign's list
-- Returns how many of them are still in flight.
local W = waits_at(6)
redis.call('DEL', KEYS[5])
for k = 10, #KEYS do redis.call('PERSIST', KEYS[k]) end
local busy = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[2], id) == 1 then
    unwait(W, id)
    redis.call('SREM', KEYS[1], id)
  else
    local outcome = redis.call('HGET', KEYS[3], id)
    if outcome then
      redis.call('HDEL', KEYS[3], id)
      redis.call('HSET', KEYS[4], id, outcome)
      closed_as(W, outcome, -1)
      redis.call('SREM', KEYS[1], id)
    elseif redis.call('SISMEMBER', KEYS[1], id) == 1 then
      busy = busy + 1
    end
  end
end
return busy
