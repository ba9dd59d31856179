-- Claims contacts that are due, each under a new attempt id and a lease (Redis clock).
-- KEYS: due, leases, inflight, attempt-seq, epoch, contacts, then the waits (waits.lua)
-- ARGV: max contacts, lease ms, the epoch the worker started with, campaign-wide in-flight cap
-- Returns {attempt id, contact id, history json or false, ...}. A contact leaves `due` and
-- enters `inflight` in one step, so no two attempts ever hold the same contact, and the
-- campaign's cap on calls in flight holds across any number of workers.
if redis.call('GET', KEYS[5]) ~= ARGV[3] then
  return redis.error_reply('EPOCH campaign state is gone or was replaced; stop dialing')
end
local W = {tags = KEYS[7], counts = KEYS[8], ends = KEYS[9]}
local room = tonumber(ARGV[4]) - redis.call('HLEN', KEYS[3])
local want = math.min(tonumber(ARGV[1]), room)
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
  table.insert(out, attempt)
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[6], id))
end
return out
