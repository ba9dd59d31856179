-- Ends an agent's wrap-up with a disposition in one step: the disposition is kept for the
-- attempt; the contact is closed, due again (a call-back, a retry), or left where the call's
-- outcome put it (a campaign without codes); the agent's new record and change are written.
-- Nothing is written unless every check passes.
-- KEYS: agents (hash), agent changes (stream), inflight, due, closed, contacts, dispositions,
--       then the waits (waits.lua)
-- ARGV: agent, expected record, new record, change, changes kept, attempt, contact, expected
--       history ('' when none), effect ('close' | 'due' | 'keep'), closing outcome,
--       due (ms), disposition
-- Returns {'ok', change id}, or {reason}: 'record' (the agent's record changed meanwhile),
-- 'history' (the contact's history changed meanwhile), 'inflight' (the call's attempt is not
-- recorded yet), 'elsewhere' (the contact is in another attempt or left the ledger).
local W = waits_at(8)
local agent, attempt, contact, effect = ARGV[1], ARGV[6], ARGV[7], ARGV[9]
if (redis.call('HGET', KEYS[1], agent) or '') ~= ARGV[2] then return {'record'} end
if redis.call('HEXISTS', KEYS[3], attempt) == 1 then return {'inflight'} end
if (redis.call('HGET', KEYS[6], contact) or '') ~= ARGV[8] then return {'history'} end
local due = redis.call('ZSCORE', KEYS[4], contact)
local closed = redis.call('HGET', KEYS[5], contact)
if effect ~= 'keep' and not due and not closed then return {'elsewhere'} end

if effect == 'close' and due then
  redis.call('ZREM', KEYS[4], contact)
  unwait(W, contact)
  redis.call('HSET', KEYS[5], contact, ARGV[10])
  closed_as(W, ARGV[10], 1)
elseif effect == 'due' then
  if closed then
    redis.call('HDEL', KEYS[5], contact)
    closed_as(W, closed, -1)
  end
  local at = tonumber(ARGV[11])
  redis.call('ZADD', KEYS[4], at, contact)
  wait(W, contact, 'retry', at)
end
redis.call('HSET', KEYS[7], attempt, ARGV[12])
redis.call('HSET', KEYS[1], agent, ARGV[3])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'agent', agent, 'change', ARGV[4])
return {'ok', id}
