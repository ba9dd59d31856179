-- Takes back the contacts of attempts whose lease expired (their worker died or froze).
-- Such an attempt may or may not have reached the callee: it is recorded as `Unknown`,
-- counted as an attempt (closure limits err on the side of calling less), and its contact is
-- due again only after a delay, so a call still alive on an orphaned switch ends first.
-- KEYS: leases, inflight, due, contacts, totals, attempts stream, then the waits (waits.lua)
-- ARGV: max attempts to reclaim, re-dial delay ms
-- Returns the reclaimed attempt ids.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local W = {tags = KEYS[7], counts = KEYS[8], ends = KEYS[9]}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, attempt in ipairs(expired) do
  redis.call('ZREM', KEYS[1], attempt)
  local contact = redis.call('HGET', KEYS[2], attempt)
  if contact then
    redis.call('HDEL', KEYS[2], attempt)
    local raw = redis.call('HGET', KEYS[4], contact)
    local h = raw and cjson.decode(raw) or {attempts = 0, outcomes = {}}
    h.attempts = h.attempts + 1
    if not h.first then h.first = now end
    h.last = 'Unknown'
    h.outcomes['Unknown'] = (h.outcomes['Unknown'] or 0) + 1
    redis.call('HSET', KEYS[4], contact, cjson.encode(h))
    local due = now + tonumber(ARGV[2])
    redis.call('ZADD', KEYS[3], due, contact)
    wait(W, contact, 'retry', due)
    redis.call('HINCRBY', KEYS[5], 'attempts', 1)
    redis.call('HINCRBY', KEYS[5], 'outcome:Unknown', 1)
    redis.call('XADD', KEYS[6], '*', 'attempt', attempt, 'contact', contact,
      'outcome', 'Unknown', 'ended_ms', now, 'reason', 'lease expired')
  end
end
return expired
