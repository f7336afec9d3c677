package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the key prefix of the Redis store unless configured.
const DefaultKeyPrefix = "billbridge:"

// RedisBackend is the Redis Store. A record is a hash with the fields
// state, owner, fp, status, ctype, body, amb, attempts, created, updated and
// lease_until (times in unix milliseconds, Redis server time). Every
// transition is one Lua script, so it is atomic, and lease checks use the
// Redis server's clock (TIME), so Caddy instances with skewed clocks agree.
// Every write sets PEXPIRE to the retention.
type RedisBackend struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisBackend returns a store that keeps its records in client under
// prefix (DefaultKeyPrefix if empty). The caller owns client.
func NewRedisBackend(client redis.UniversalClient, prefix string) *RedisBackend {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &RedisBackend{client: client, prefix: prefix}
}

// FullKey returns the Redis key of a logical key: prefix + "{" + logical +
// "}". The braces make the logical key a Redis Cluster hash tag, so all
// keys of one event land in one slot.
func (b *RedisBackend) FullKey(logical string) string {
	return fullKey(b.prefix, logical)
}

func fullKey(prefix, logical string) string {
	return prefix + "{" + logical + "}"
}

// recordFields are the hash fields in the order parseRecord reads them.
var recordFields = []string{"state", "owner", "fp", "status", "ctype", "body", "amb", "attempts", "created", "updated", "lease_until"}

// luaPrelude is shared by every script: the key, the server's time in
// milliseconds, and a reader of the whole record in recordFields order.
const luaPrelude = `
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function ms(n) return string.format('%d', n) end
local function rec()
  return redis.call('HMGET', key, 'state', 'owner', 'fp', 'status', 'ctype', 'body', 'amb', 'attempts', 'created', 'updated', 'lease_until')
end
local function corrupt(what)
  return redis.error_reply('billbridge: corrupt record: ' .. what)
end
`

// claimScript: ARGV = owner, fingerprint, lease ms, retention ms.
// Returns {outcome, record} with outcome 1 claimed, 2 replay, 3 in flight,
// 4 conflict.
var claimScript = redis.NewScript(luaPrelude + `
local owner, fp, lease, ret = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local cur = redis.call('HMGET', key, 'state', 'owner', 'fp', 'lease_until', 'amb')
local state = cur[1]
if not state then
  if redis.call('EXISTS', key) == 1 then return corrupt('no state') end
  redis.call('HSET', key, 'state', 'processing', 'owner', owner, 'fp', fp,
    'status', '0', 'ctype', '', 'body', '', 'amb', '0', 'attempts', '1',
    'created', ms(now), 'updated', ms(now), 'lease_until', ms(now + lease))
  redis.call('PEXPIRE', key, ret)
  return {1, rec()}
end
local sfp = cur[3] or ''
if sfp ~= '' and sfp ~= fp then return {4, rec()} end
if state == 'done' then return {2, rec()} end
local amb = cur[5] or '0'
if state == 'processing' then
  if (tonumber(cur[4] or '0') or 0) > now then
    if cur[2] == owner then return {1, rec()} end
    return {3, rec()}
  end
  amb = '1'
elseif state ~= 'released' then
  return corrupt('state ' .. state)
end
redis.call('HSET', key, 'state', 'processing', 'owner', owner, 'amb', amb,
  'updated', ms(now), 'lease_until', ms(now + lease))
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('PEXPIRE', key, ret)
return {1, rec()}
`)

// completeScript: ARGV = owner, status, content type, body, retention ms.
// Returns 0 done, 1 already done (nothing changed), 2 done but the owner
// had lost the claim, 3 done but the record was missing.
var completeScript = redis.NewScript(luaPrelude + `
local owner = ARGV[1]
local cur = redis.call('HMGET', key, 'state', 'owner')
local code = 0
if not cur[1] then
  if redis.call('EXISTS', key) == 1 then return corrupt('no state') end
  redis.call('HSET', key, 'fp', '', 'amb', '0', 'attempts', '1', 'created', ms(now))
  code = 3
elseif cur[1] == 'done' then
  return 1
elseif cur[1] ~= 'processing' or cur[2] ~= owner then
  code = 2
end
redis.call('HSET', key, 'state', 'done', 'owner', owner, 'status', ARGV[2],
  'ctype', ARGV[3], 'body', ARGV[4], 'updated', ms(now), 'lease_until', '0')
redis.call('PEXPIRE', key, ARGV[5])
return code
`)

// releaseScript: ARGV = owner, ambiguous ("0" or "1"), retention ms.
// Returns 0 released, 1 the owner does not hold the claim.
var releaseScript = redis.NewScript(luaPrelude + `
local owner = ARGV[1]
local cur = redis.call('HMGET', key, 'state', 'owner', 'amb')
if not cur[1] or cur[2] ~= owner then return 1 end
local amb = cur[3] or '0'
if ARGV[2] == '1' then amb = '1' end
if cur[1] == 'released' then
  if amb == cur[3] then return 0 end
elseif cur[1] ~= 'processing' then
  return 1
end
redis.call('HSET', key, 'state', 'released', 'amb', amb, 'updated', ms(now), 'lease_until', '0')
redis.call('PEXPIRE', key, ARGV[3])
return 0
`)

// millis converts d to whole milliseconds, rounding up, at least 1.
func millis(d time.Duration) int64 {
	n := int64((d + time.Millisecond - 1) / time.Millisecond)
	if n < 1 {
		n = 1
	}
	return n
}

// Claim implements Store.
func (b *RedisBackend) Claim(ctx context.Context, key, owner, fingerprint string, lease, retention time.Duration) (ClaimResult, error) {
	if err := checkClaim(key, owner, lease, retention); err != nil {
		return ClaimResult{}, err
	}
	v, err := claimScript.Run(ctx, b.client, []string{b.FullKey(key)},
		owner, fingerprint, millis(lease), millis(retention)).Slice()
	if err != nil {
		return ClaimResult{}, fmt.Errorf("store: claim %q: %w", key, err)
	}
	if len(v) != 2 {
		return ClaimResult{}, &corruptError{key: key, what: fmt.Sprintf("claim returned %d values", len(v))}
	}
	code, ok := v[0].(int64)
	if !ok || code < int64(Claimed) || code > int64(Conflict) {
		return ClaimResult{}, &corruptError{key: key, what: fmt.Sprintf("claim returned outcome %v", v[0])}
	}
	fields, _ := v[1].([]any)
	rec, found, err := parseRecord(key, fields)
	if err != nil {
		return ClaimResult{}, err
	}
	if !found {
		return ClaimResult{}, &corruptError{key: key, what: "claim returned no record"}
	}
	res := ClaimResult{Outcome: Outcome(code), Record: rec}
	res.Ambiguous = res.Outcome == Claimed && rec.Ambiguous
	return res, nil
}

// Complete implements Store.
func (b *RedisBackend) Complete(ctx context.Context, key, owner string, resp Response, retention time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkOwner(owner); err != nil {
		return err
	}
	if err := checkRetention(retention); err != nil {
		return err
	}
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	code, err := completeScript.Run(ctx, b.client, []string{b.FullKey(key)},
		owner, resp.Status, resp.ContentType, body, millis(retention)).Int64()
	if err != nil {
		return fmt.Errorf("store: complete %q: %w", key, err)
	}
	switch code {
	case 0, 1:
		return nil
	case 2:
		return ErrLeaseLost
	case 3:
		return errMissingRecord
	}
	return &corruptError{key: key, what: fmt.Sprintf("complete returned %d", code)}
}

// Release implements Store.
func (b *RedisBackend) Release(ctx context.Context, key, owner string, ambiguous bool, retention time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkOwner(owner); err != nil {
		return err
	}
	if err := checkRetention(retention); err != nil {
		return err
	}
	amb := "0"
	if ambiguous {
		amb = "1"
	}
	code, err := releaseScript.Run(ctx, b.client, []string{b.FullKey(key)},
		owner, amb, millis(retention)).Int64()
	if err != nil {
		return fmt.Errorf("store: release %q: %w", key, err)
	}
	switch code {
	case 0:
		return nil
	case 1:
		return ErrLeaseLost
	}
	return &corruptError{key: key, what: fmt.Sprintf("release returned %d", code)}
}

// Get implements Store.
func (b *RedisBackend) Get(ctx context.Context, key string) (Record, bool, error) {
	if err := checkKey(key); err != nil {
		return Record{}, false, err
	}
	v, err := b.client.HMGet(ctx, b.FullKey(key), recordFields...).Result()
	if err != nil {
		return Record{}, false, fmt.Errorf("store: get %q: %w", key, err)
	}
	return parseRecord(key, v)
}

// parseRecord reads the values of recordFields; found is false if the
// record has no state (it does not exist).
func parseRecord(key string, v []any) (rec Record, found bool, err error) {
	if len(v) != len(recordFields) {
		return Record{}, false, &corruptError{key: key, what: fmt.Sprintf("%d fields", len(v))}
	}
	str := func(i int) string {
		s, _ := v[i].(string)
		return s
	}
	num := func(i int) int64 {
		if err != nil {
			return 0
		}
		s := str(i)
		if s == "" {
			return 0
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			err = &corruptError{key: key, what: fmt.Sprintf("field %s: %q", recordFields[i], s)}
		}
		return n
	}
	millisTime := func(i int) time.Time {
		n := num(i)
		if n == 0 {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	if v[0] == nil {
		return Record{}, false, nil
	}
	rec = Record{
		State:       State(str(0)),
		Owner:       str(1),
		Fingerprint: str(2),
		Response: Response{
			Status:      int(num(3)),
			ContentType: str(4),
			Body:        bytesOrNil(str(5)),
		},
		Ambiguous:  str(6) == "1",
		Attempts:   int(num(7)),
		CreatedAt:  millisTime(8),
		UpdatedAt:  millisTime(9),
		LeaseUntil: millisTime(10),
	}
	if err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// Interface guards
var _ Store = (*RedisBackend)(nil)
