-- Writes an agent's new record and logs the change, only if the stored record is still the
-- one the change was computed from (compare and set), so concurrent writers lose nothing.
-- KEYS: agents (hash), agent changes (stream)
-- ARGV: agent, expected record ('' when the campaign has none), new record, change, kept
-- Returns the change's stream id, or false when the record changed meanwhile.
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then
  return false
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'agent', ARGV[1], 'change', ARGV[4])
