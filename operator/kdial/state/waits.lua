-- Why pending contacts wait (kdial.state.waits): prepended to every script that moves a
-- contact in or out of `due`, which keeps each contact's tag, the count of each reason and
-- the latest end of its waits in the same atomic step. W holds the four keys: tags (contact
-- -> reason), counts (reason -> contacts, and `suppressed`), ends (reason -> ms), times
-- (contact -> ms its wait ends, for settle.lua).

-- W from the four keys that start at KEYS[first], in `CampaignKeys.waits`'s order.
local function waits_at(first)
  return {tags = KEYS[first], counts = KEYS[first + 1], ends = KEYS[first + 2],
          times = KEYS[first + 3]}
end

local function unwait(W, id)
  local reason = redis.call('HGET', W.tags, id)
  if not reason then return end
  redis.call('HDEL', W.tags, id)
  redis.call('ZREM', W.times, id)
  if redis.call('HINCRBY', W.counts, reason, -1) <= 0 then
    redis.call('HDEL', W.counts, reason)
    redis.call('HDEL', W.ends, reason)
  end
end

-- A contact due again at `due` (ms) for `reason` ('' for none: due now, or nothing a person
-- needs to know). Untagged first, so a contact is never counted twice.
local function wait(W, id, reason, due)
  unwait(W, id)
  if reason == '' then return end
  redis.call('HSET', W.tags, id, reason)
  redis.call('ZADD', W.times, due, id)
  redis.call('HINCRBY', W.counts, reason, 1)
  local latest = tonumber(redis.call('HGET', W.ends, reason) or '0')
  if due > latest then redis.call('HSET', W.ends, reason, string.format('%d', due)) end
end

-- A contact entering (step 1) or leaving (step -1) `closed` with `outcome`.
local function closed_as(W, outcome, step)
  if outcome ~= 'Suppressed' then return end
  if redis.call('HINCRBY', W.counts, 'suppressed', step) <= 0 then
    redis.call('HDEL', W.counts, 'suppressed')
  end
end
