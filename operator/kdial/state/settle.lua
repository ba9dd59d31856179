-- Untags the contacts whose wait has ended (kdial.state.waits): they are due now, merely not
-- claimed yet, and status counts only the contacts still waiting.
-- KEYS: the waits (waits.lua). ARGV: the most contacts to untag.
-- Returns how many it untagged.
local W = waits_at(1)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ended = redis.call('ZRANGEBYSCORE', W.times, '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(ended) do unwait(W, id) end
return #ended
