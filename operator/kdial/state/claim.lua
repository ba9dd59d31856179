-- Claims contacts that are due, each under a new attempt id and a lease (Redis clock).
-- KEYS: due, leases, inflight, attempt-seq, epoch, contacts, then the waits (waits.lua),
--       then permits, launched, paced calls (a predictive campaign's; see keys.py)
-- ARGV: max contacts, lease ms, the epoch the worker started with, campaign-wide in-flight cap,
--       '1' for a predictive campaign (else '0'), its in-flight cap while permits hold
-- Returns {attempt id, contact id, history json or false, ...}. A contact leaves `due` and
-- enters `inflight` in one step, so no two attempts ever hold the same contact, and the
-- campaign's cap on calls in flight holds across any number of workers. A predictive campaign
-- claims within its pacer's permits while they are fresh (the key expires when the pacer's
-- decision goes stale) and within the in-flight cap (progressive's) when they are not; each of
-- its claims is a call ringing for the pacer to see, from the moment it is claimed.
if redis.call('GET', KEYS[5]) ~= ARGV[3] then
  return redis.error_reply('EPOCH campaign state is gone or was replaced; stop dialing')
end
local W = waits_at(7)
local paced = ARGV[5] == '1'
local permits = paced and redis.call('GET', KEYS[11])
local cap = permits and tonumber(ARGV[6]) or tonumber(ARGV[4])
local want = math.min(tonumber(ARGV[1]), cap - redis.call('HLEN', KEYS[3]))
if permits then want = math.min(want, tonumber(permits)) end
if want <= 0 then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, want)
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  unwait(W, id)
  local attempt = ARGV[3] .. '-' .. redis.call('INCR', KEYS[4])
  redis.call('HSET', KEYS[3], attempt, id)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), attempt)
  if paced then redis.call('HSET', KEYS[13], attempt, 'ringing:' .. now) end
  table.insert(out, attempt)
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[6], id))
end
if paced and #ids > 0 then
  redis.call('INCRBY', KEYS[12], #ids)
  if permits then redis.call('DECRBY', KEYS[11], #ids) end
end
return out
