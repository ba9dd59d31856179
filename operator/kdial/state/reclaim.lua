-- Takes back the contacts of attempts whose lease expired (their worker died or froze).
-- Such an attempt may or may not have reached the callee: it is recorded as `Unknown`,
-- counted as an attempt (closure limits err on the side of calling less), and its contact is
-- due again only after a delay, so a call still alive on an orphaned switch ends first.
-- The agent Reserved for or Talking on such an attempt is freed in the same step (nothing
-- else would ever move them again, and the campaign would count them on a call): the
-- `callLost` move of kdial.agent_state, Talking to WrapUp on the attempt (so the disposition
-- lands with it), Reserved to NotReady with ARGV[3] as the reason; logged as every change is.
-- An agent in WrapUp keeps it: the reclaim records the attempt their disposition needs.
-- KEYS: leases, inflight, due, contacts, totals, attempts stream, then the waits (waits.lua),
--       then agents (hash), agent changes (stream)
-- ARGV: max attempts to reclaim, re-dial delay ms, the NotReady reason, changes kept, the
--       schema version of an agent change
-- Returns the reclaimed attempt ids.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local W = waits_at(7)
local LOST = {Reserved = 'NotReady', Talking = 'WrapUp'}

-- attempt -> name of the agent on it; read once, and only once a lease has expired.
local on_call
local function agent_on(attempt)
  if not on_call then
    on_call = {}
    local all = redis.call('HGETALL', KEYS[11])
    for i = 1, #all, 2 do
      local record = cjson.decode(all[i + 1])
      if record.attempt and LOST[record.state] then on_call[record.attempt] = all[i] end
    end
  end
  return on_call[attempt]
end

local function free_agent(attempt)
  local agent = agent_on(attempt)
  if not agent then return end
  local record = cjson.decode(redis.call('HGET', KEYS[11], agent))
  local before = record.state
  record.state, record.sinceMs = LOST[before], now
  if record.state == 'NotReady' then
    record.reason, record.attempt = ARGV[3], nil
  end
  redis.call('HSET', KEYS[11], agent, cjson.encode(record))
  local change = {schemaVersion = tonumber(ARGV[5]), agent = agent, action = 'callLost',
    before = before, after = record.state, atMs = now, endpoint = record.endpoint,
    reason = record.reason, attempt = attempt}
  redis.call('XADD', KEYS[12], 'MAXLEN', '~', ARGV[4], '*', 'agent', agent,
    'change', cjson.encode(change))
end

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
  free_agent(attempt)
end
return expired
