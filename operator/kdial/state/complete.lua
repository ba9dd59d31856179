-- Ends an attempt: the contact is closed or due again, counters move, one record is appended.
-- KEYS: inflight, leases, due, closed, contacts, totals, minute bucket, attempts stream, then
--       the waits (waits.lua)
-- ARGV: attempt id, outcome, close (0|1), delay ms, counts as attempt (0|1), bucket ttl s,
--       trunk (kept in the history, so a lost call is re-dialled on another trunk),
--       caller ID shown ('' for none; kept in the history with when, for the per-callee
--       cooldown), first in line (0|1), number of counters n, n counter names, then record
--       field/value pairs
-- Returns 0 when the attempt no longer holds its contact (its lease expired and the contact
-- was reclaimed): a stale worker cannot close or re-queue what it no longer owns.
local contact = redis.call('HGET', KEYS[1], ARGV[1])
if not contact then return 0 end
local W = waits_at(9)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local raw = redis.call('HGET', KEYS[5], contact)
local h = raw and cjson.decode(raw) or {attempts = 0, outcomes = {}}
if ARGV[5] == '1' then
  h.attempts = h.attempts + 1
  if not h.first then h.first = now end
end
h.last = ARGV[2]
if ARGV[7] ~= '' then h.trunk = ARGV[7] end
if ARGV[8] ~= '' then
  if type(h.shown) ~= 'table' then h.shown = {} end
  h.shown[ARGV[8]] = now
end
h.outcomes[ARGV[2]] = (h.outcomes[ARGV[2]] or 0) + 1
redis.call('HSET', KEYS[5], contact, cjson.encode(h))

-- First in line (a line failure's re-dial): scored FRONT_MS (about 317 years) before its due
-- time, so it is claimed before every contact that is due, whatever the backlog, while
-- such re-dials keep their order among themselves. Due times are ms since the epoch (0 or
-- more), so nothing else scores that low; counting "due now" still counts it.
local FRONT_MS = 10000000000000
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[4], contact, ARGV[2])
else
  local due = now + tonumber(ARGV[4])
  local reason = ''
  if ARGV[9] == '1' then
    due = due - FRONT_MS
  elseif tonumber(ARGV[4]) > 0 then
    reason = 'retry'
  end
  redis.call('ZADD', KEYS[3], due, contact)
  wait(W, contact, reason, due)
end

local n = tonumber(ARGV[10])
for i = 11, 10 + n do
  redis.call('HINCRBY', KEYS[6], ARGV[i], 1)
  redis.call('HINCRBY', KEYS[7], ARGV[i], 1)
end
redis.call('EXPIRE', KEYS[7], tonumber(ARGV[6]))

local record = {'attempt', ARGV[1], 'contact', contact, 'outcome', ARGV[2], 'ended_ms', now}
for i = 11 + n, #ARGV do table.insert(record, ARGV[i]) end
redis.call('XADD', KEYS[8], '*', unpack(record))
return 1
