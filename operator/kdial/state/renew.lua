-- Extends the leases of attempts a worker still holds (Redis clock).
-- KEYS: leases, inflight    ARGV: lease ms, attempt ids...
-- Returns the attempt ids that were no longer held: their calls must be treated as lost.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lost = {}
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
