-- The campaign's one predictive pacer: its lease and the permits it writes.
-- KEYS: pacer lease, permits, launched
-- ARGV[1] 'hold': ARGV worker id, lease ms. Takes the lease when free, renews it when held by
--   this worker; returns 1 when this worker holds it now, else 0.
-- ARGV[1] 'permit': ARGV worker id, calls decided, `launched` when the pacer looked, permit ms.
--   Only the holder writes: the calls decided less those claimed since its look (the look did
--   not see them), expiring after permit ms so a stale decision lapses to progressive.
--   Returns the permits written, or -1 when this worker no longer holds the lease.
-- ARGV[1] 'release': ARGV worker id. Gives up the lease if held, and its permits with it.
local holder = redis.call('GET', KEYS[1])
if ARGV[1] == 'hold' then
  if holder == ARGV[2] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1
  end
  if holder then return 0 end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
if holder ~= ARGV[2] then return -1 end
if ARGV[1] == 'permit' then
  local since = tonumber(redis.call('GET', KEYS[3]) or '0') - tonumber(ARGV[4])
  local permits = math.max(0, tonumber(ARGV[3]) - since)
  redis.call('SET', KEYS[2], permits, 'PX', ARGV[5])
  return permits
end
redis.call('DEL', KEYS[1], KEYS[2])
return 0
