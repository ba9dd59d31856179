-- A previewed record's choice, made once: from 'open' (the agent reads it) to 'dial' or
-- 'skip', so a record is never both dialled and given back (kdial.state.preview).
-- KEYS: the record's choice key (CampaignKeys.preview_choice)
-- ARGV: 'dial' | 'skip', ms the choice is kept
-- Returns 'ok' when made, else what stands: 'dial', 'skip', or 'none' (no preview of it).
local current = redis.call('GET', KEYS[1])
if current ~= 'open' then return current or 'none' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'ok'
