-- An agent's seat: the one campaign they are logged in to (kdial.state.agents.Seat).
-- KEYS: seats (hash)
-- ARGV[1] = 'take': agent, campaign, expected seat ('' = whatever it is). Takes the seat when
--   it is free, already this campaign's, or still the expected one; returns '' when taken,
--   else the seat as it stands (JSON).
-- ARGV[1] = 'leave': agent, campaign. Frees the seat if it is this campaign's.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local agent, campaign = ARGV[2], ARGV[3]
local current = redis.call('HGET', KEYS[1], agent)
local mine = current and cjson.decode(current)['campaign'] == campaign
if ARGV[1] == 'leave' then
  if mine then
    redis.call('HDEL', KEYS[1], agent)
  end
  return ''
end
if current and not mine and current ~= ARGV[4] then
  return current
end
local seat = string.format('{"atMs": %d, "campaign": %s, "schemaVersion": 1}', now, cjson.encode(campaign))
redis.call('HSET', KEYS[1], agent, seat)
return ''
