-- Cluster-wide caps on trunks and caller IDs (kdial_worker.caps is the only caller).
-- One call touches the keys of one pool only, so they share the pool's hash tag and slot.
-- ARGV[1] names the operation; KEYS and the rest of ARGV are described per operation.
-- Everything runs on Redis's clock (TIME): slot expiries in ms, the CPS log in µs.
--
-- Slots are ZSET members (attempt id -> expiry), so a worker that dies holding one frees it
-- when the expiry passes, and the count is ZCARD after expired members are dropped.
-- Acquisition is idempotent per attempt id: a client that re-sends the script after a lost
-- reply (redis-py retries on timeouts) gets the same slot back, not a second slot or token.
--
-- Numbers: Lua's tostring keeps 14 digits, too few for µs since the epoch, so strings are
-- built with %d; numbers handed to redis.call are sent with 17 digits and stay exact.

local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now = math.floor(now_us / 1000)
local DAY_MS = 86400000

-- Drops slots whose holder stopped renewing; what remains is the number of calls held.
local function live(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key)
end

-- The key lives as long as its longest slot, so a trunk or number taken out of service
-- leaves nothing behind; taking the maximum keeps a short TTL from cutting a longer one.
local function expire_with_last_slot(key)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIREAT', key, tonumber(top[2]) + 1) end
end

local function hold(key, attempt, ttl)
  redis.call('ZADD', key, now + ttl, attempt)
  expire_with_last_slot(key)
end

-- Sliding-window log: a grant is allowed while fewer than max_cps grants lie in the last
-- window (now - window, now], the window being 1 s plus a margin for the spread of the delay
-- from grant to INVITE (kdial_worker.caps.CPS_WINDOW_MS says why). Then no half-open window of
-- that length ever holds more than max_cps grants: were there max_cps + 1, the last of them saw
-- the other max_cps within the window before it and was refused. A token bucket of the same
-- capacity and rate admits up to twice that.
-- Returns 0 when allowed, else the ms until the grant that has to age out does.
local function cps_wait(key, max_cps, window_us)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_us - window_us)
  local sent = redis.call('ZCARD', key)
  if sent < max_cps then return 0 end
  local oldest = redis.call('ZRANGE', key, sent - max_cps, sent - max_cps, 'WITHSCORES')
  return math.ceil((tonumber(oldest[2]) + window_us - now_us) / 1000)
end

-- A grant id is unique: the attempt id plus the µs it was granted (one attempt can take the
-- same trunk again only after releasing it, which is another command, so another µs).
-- kdial_worker.caps.refund_cps removes a grant by this id.
local function log_grant(key, attempt, window_us)
  redis.call('ZADD', key, now_us, attempt .. '@' .. string.format('%d', now_us))
  redis.call('PEXPIRE', key, math.ceil(window_us / 1000))
end

-- Priority among campaigns sharing a trunk: a campaign refused on it, or granted the last of
-- what it has (its last slot, or the last grant its CPS window allows), is marked as wanting
-- it for a while (member '<priority>:<campaign>', scored with the mark's end). While any
-- campaign of higher priority is marked, what frees goes to that one, not to the first to ask.
-- A grant with room to spare clears the campaign's mark: it is not short of the trunk.
local function outranked(key, priority)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if tonumber(string.match(member, '^(%d+):')) > priority then return true end
  end
  return false
end

-- KEYS: trunk active, trunk cps, trunk wanted. ARGV: op, attempt, max concurrent, max cps,
-- ttl ms, CPS window µs, campaign, priority, how long a refusal marks the campaign (ms).
-- Returns {1, calls held including this one, granted at (µs), grants in the last window
-- including this one} or {0, 'priority' | 'concurrency' | 'cps', retry after ms, calls held}.
local function acquire_trunk()
  local attempt, max_conc = ARGV[2], tonumber(ARGV[3])
  local max_cps, ttl, window_us = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local mark = string.format('%d', tonumber(ARGV[8])) .. ':' .. ARGV[7]
  local held = live(KEYS[1])
  if redis.call('ZSCORE', KEYS[1], attempt) then
    hold(KEYS[1], attempt, ttl)
    return {1, held, now_us, redis.call('ZCARD', KEYS[2])}
  end
  local refused
  if outranked(KEYS[3], tonumber(ARGV[8])) then
    refused = {0, 'priority', 0, held}
  elseif held >= max_conc then
    refused = {0, 'concurrency', 0, held}
  else
    local wait = cps_wait(KEYS[2], max_cps, window_us)
    if wait > 0 then refused = {0, 'cps', wait, held} end
  end
  if not refused then
    log_grant(KEYS[2], attempt, window_us)
    hold(KEYS[1], attempt, ttl)
  end
  local in_window = redis.call('ZCARD', KEYS[2])
  if refused or held + 1 >= max_conc or in_window >= max_cps then
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[9]), mark)
    expire_with_last_slot(KEYS[3])
  else
    redis.call('ZREM', KEYS[3], mark)
  end
  return refused or {1, held + 1, now_us, in_window}
end

-- KEYS: number active, number day. ARGV: op, attempt, max concurrent (0: none),
-- max per day (0: none), ttl ms. The day is the UTC day on Redis's clock: the counter
-- expires at the next UTC midnight. Returns {1, calls held including this one, calls today,
-- granted at (µs)} or {0, 'concurrency' | 'day', retry after ms, calls held}.
local function acquire_number()
  local attempt, max_conc = ARGV[2], tonumber(ARGV[3])
  local max_day, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
  local held = live(KEYS[1])
  local today = tonumber(redis.call('GET', KEYS[2]) or '0')
  if redis.call('ZSCORE', KEYS[1], attempt) then
    hold(KEYS[1], attempt, ttl)
    return {1, held, today, now_us}
  end
  if max_conc > 0 and held >= max_conc then return {0, 'concurrency', 0, held} end
  local midnight = (math.floor(now / DAY_MS) + 1) * DAY_MS
  if max_day > 0 and today >= max_day then return {0, 'day', midnight - now, held} end
  today = redis.call('INCR', KEYS[2])
  redis.call('PEXPIREAT', KEYS[2], midnight)
  hold(KEYS[1], attempt, ttl)
  return {1, held + 1, today, now_us}
end

-- KEYS: number day, number day's refunds. ARGV: op, attempt, granted at (µs).
-- Takes `attempt`'s call back out of the caller ID's count for today, once: for an originate
-- the switch refused before any session, which no callee and no carrier saw. A grant of an
-- earlier UTC day counted against that day, which is over. Returns 1 when taken back.
local function refund_number()
  local granted_ms = math.floor(tonumber(ARGV[3]) / 1000)
  if math.floor(granted_ms / DAY_MS) ~= math.floor(now / DAY_MS) then return 0 end
  if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return 0 end
  redis.call('PEXPIREAT', KEYS[2], (math.floor(now / DAY_MS) + 1) * DAY_MS)
  if tonumber(redis.call('GET', KEYS[1]) or '0') <= 0 then return 0 end
  redis.call('DECR', KEYS[1])
  return 1
end

-- KEYS: an active ZSET. ARGV: op, ttl ms, attempt ids (calls the worker still has up).
-- Extends each slot, and puts back a slot that lapsed (the worker was cut off from Redis for
-- longer than the TTL, or a failover lost the write): the call is still up, so it must be
-- counted, even if that puts the count over the cap for a while, since new calls are then
-- refused until it is back under. Returns the attempts whose slot had lapsed.
local function renew()
  local ttl = tonumber(ARGV[2])
  live(KEYS[1])
  local lapsed = {}
  -- XX: only slots still held are extended. A renewal racing the call's own release must
  -- never bring the slot back (it would hold capacity no call uses); a slot that lapsed is
  -- reported, and its call counts again only if it takes a new permit.
  for i = 3, #ARGV do
    if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + ttl, ARGV[i]) == 0
        and not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
      table.insert(lapsed, ARGV[i])
    end
  end
  expire_with_last_slot(KEYS[1])
  return lapsed
end

-- KEYS: an active ZSET. Counts live slots without writing, for metrics and status.
local function count()
  return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%d', now), '+inf')
end

local ops = {
  acquire_trunk = acquire_trunk,
  acquire_number = acquire_number,
  refund_number = refund_number,
  renew = renew,
  count = count,
}
local op = ops[ARGV[1]]
if not op then return redis.error_reply('CAPS unknown operation ' .. tostring(ARGV[1])) end
return op()
