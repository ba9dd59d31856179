-- Gives a claimed contact back without an attempt: due again later (outside its calling
-- window, no trunk free) or closed for a reason that is not a call (suppressed, removed).
-- KEYS: inflight, leases, due, closed, totals, then the waits (waits.lua)
-- ARGV: attempt id, 'defer' | 'close', delay ms (defer) or reason (close), and for a defer why
--       the contact waits (a `kdial.state.waits` tag, '' for none)
-- Returns 0 when the attempt no longer holds its contact (lease lost): nothing changes.
local contact = redis.call('HGET', KEYS[1], ARGV[1])
if not contact then return 0 end
local W = waits_at(6)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == 'close' then
  redis.call('HSET', KEYS[4], contact, ARGV[3])
  redis.call('HINCRBY', KEYS[5], 'closed:' .. ARGV[3], 1)
  closed_as(W, ARGV[3], 1)
else
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local due = now + tonumber(ARGV[3])
  redis.call('ZADD', KEYS[3], due, contact)
  wait(W, contact, ARGV[4] or '', due)
end
return 1
