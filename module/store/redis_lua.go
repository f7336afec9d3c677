package store

import "strconv"

// The Lua shared by the Redis store's scripts. Every script is one
// transition, so it is atomic; it reads the Redis server's clock (TIME),
// so Caddy instances with skewed clocks agree.

// luaPrelude starts every script: the server's time in milliseconds, and
// a reader of a whole record in recordFields order.
var luaPrelude = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function ms(n) return string.format('%d', n) end
local function rec(k)
  return redis.call('HMGET', k, ` + luaRecordFields + `)
end
local function corrupt(what)
  return redis.error_reply('billbridge: corrupt record: ' .. what)
end
`

// luaQueue follows the prelude in the scripts that keep custody's
// indexes (see redis_layout.go): it expects qb, the shard's queue base,
// and defines the indexes' keys and the functions that keep them.
var luaQueue = `
local dueK, openK, expK, flowsK = qb .. 'due', qb .. 'open', qb .. 'exp', qb .. 'flows'
local function listK(state, flow) return qb .. 'list:' .. state .. ':' .. flow end
local listedStates = {'queued', 'processing', 'dead', 'discarded'}
local function listed(s)
  return s == 'queued' or s == 'processing' or s == 'dead' or s == 'discarded'
end
-- unlist takes record m out of the indexes: it was in custody, in
-- state, of flow.
local function unlist(m, state, flow)
  redis.call('ZREM', dueK, m)
  redis.call('ZREM', openK, m)
  redis.call('ZREM', expK, m)
  if listed(state) then redis.call('ZREM', listK(state, flow), m) end
end
-- forget takes m out of every index, wherever a record of that key that
-- has since expired left it.
local function forget(m)
  redis.call('ZREM', dueK, m)
  redis.call('ZREM', openK, m)
  redis.call('ZREM', expK, m)
  for _, f in ipairs(redis.call('SMEMBERS', flowsK)) do
    for _, s in ipairs(listedStates) do redis.call('ZREM', listK(s, f), m) end
  end
end
-- forgetStale forgets m if the indexes still know it: call it for a
-- record that was not in custody (absent, or synchronous), for which
-- anything they know is left over from an expired one.
local function forgetStale(m)
  if redis.call('ZSCORE', expK, m) then forget(m) end
end
-- relist files m under its new state: from and fromFlow say where it
-- was (from is nil if it was not listed); due is when it is due (nil if
-- it is not in the queue); expires is when its hash expires (nil if
-- unchanged).
local function relist(m, from, fromFlow, state, flow, created, due, expires)
  if from and listed(from) and (from ~= state or fromFlow ~= flow) then
    redis.call('ZREM', listK(from, fromFlow), m)
  end
  redis.call('ZADD', listK(state, flow), now, m)
  redis.call('SADD', flowsK, flow)
  if expires then redis.call('ZADD', expK, expires, m) end
  if due then
    redis.call('ZADD', dueK, due, m)
    redis.call('ZADD', openK, created, m)
  else
    redis.call('ZREM', dueK, m)
    redis.call('ZREM', openK, m)
  end
end
`

// luaTrim defines trim, for the scripts on a whole shard (it expects rb,
// the shard's record base).
var luaTrim = `
-- trim forgets up to limit records whose hash has expired, and returns
-- how many index entries it looked at. A record still there (its expiry
-- was moved) is filed under its real expiry.
local function trim(limit)
  local gone = redis.call('ZRANGEBYSCORE', expK, '-inf', now, 'LIMIT', 0, limit)
  for _, m in ipairs(gone) do
    local k = rb .. m
    local c = redis.call('HMGET', k, 'state', 'custody')
    if c[1] and c[2] == '1' and listed(c[1]) then
      local ttl = redis.call('PTTL', k)
      if ttl < 0 then
        redis.call('ZADD', expK, '+inf', m)
      else
        redis.call('ZADD', expK, now + math.max(ttl, 1), m)
      end
    else
      forget(m)
    end
  end
  return #gone
end
`

// luaHistory defines addHistory, for the scripts that end an attempt.
var luaHistory = `
-- addHistory appends an attempt that ended now (tail: its JSON without
-- the opening brace and time) to the hist field h, keeping the latest.
local function addHistory(h, tail)
  local line = '{"at":' .. ms(now) .. ',' .. tail
  if not h or h == '' then return line end
  h = h .. '\n' .. line
  local _, n = string.gsub(h, '\n', '\n')
  n = n + 1
  while n > ` + strconv.Itoa(MaxHistory) + ` do
    h = string.sub(h, string.find(h, '\n', 1, true) + 1)
    n = n - 1
  end
  return h
end
`

// luaRecordScript starts a script on one record: KEYS[1] is the record's
// key, KEYS[2] its shard's queue base (see [RedisBackend.keys]); key and
// m are the record's key and logical key (the member of the indexes).
// The record base is as long as the queue base, so the logical key
// starts after it.
var luaRecordScript = luaPrelude + `
local key, qb = KEYS[1], KEYS[2]
local m = string.sub(key, #qb + 1)
` + luaQueue

// luaShardScript starts a script on a whole shard: KEYS[1] is its queue
// base, KEYS[2] its record base (see [RedisBackend.shardKeys]).
var luaShardScript = luaPrelude + `
local qb, rb = KEYS[1], KEYS[2]
` + luaQueue + luaTrim
