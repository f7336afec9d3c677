package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listScript: ARGV = state ("" for every listed one), flow ("" for
// every one), n, and the cursor's time (unix ms, "" on the first page)
// and key. Returns {key, updated, …}: from each of the shard's list
// indexes the filter selects, the n newest records after the cursor, and
// every one at the cursor's time when the cursor's own key has moved
// (List sorts them out).
var listScript = newLuaScript(luaShardScript + `
local fstate, fflow, n, at, after = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local states = listedStates
if fstate ~= '' then states = {fstate} end
local flows
if fflow ~= '' then flows = {fflow} else flows = redis.call('SMEMBERS', flowsK) end
local out = {}
local function add(r)
  for i = 1, #r do out[#out + 1] = r[i] end
end
for _, s in ipairs(states) do
  for _, f in ipairs(flows) do
    local k = listK(s, f)
    if at == '' then
      add(redis.call('ZREVRANGEBYSCORE', k, '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, n))
    else
      local sc = redis.call('ZSCORE', k, after)
      if sc and tonumber(sc) == tonumber(at) then
        local r = redis.call('ZREVRANK', k, after)
        add(redis.call('ZREVRANGE', k, r + 1, r + n, 'WITHSCORES'))
      else
        for _, m in ipairs(redis.call('ZREVRANGEBYSCORE', k, at, at)) do
          out[#out + 1] = m
          out[#out + 1] = at
        end
        add(redis.call('ZREVRANGEBYSCORE', k, '(' .. at, '-inf', 'WITHSCORES', 'LIMIT', 0, n))
      end
    end
  end
end
return out
`)

// List implements Queue. It asks every shard for its newest records
// after the cursor, merges them, then reads the page's records; a record
// that changed in between so that the filter no longer selects it is
// left out of the page.
func (b *RedisBackend) List(ctx context.Context, f Filter) (Page, error) {
	f, err := checkFilter(f)
	if err != nil {
		return Page{}, err
	}
	var afterAt int64
	var afterKey, atArg string
	if f.After != "" {
		if afterAt, afterKey, err = parseCursor(f.After); err != nil {
			return Page{}, err
		}
		atArg = strconv.FormatInt(afterAt/int64(time.Millisecond), 10)
	}
	calls := make([]scriptCall, redisShards)
	for i := range calls {
		calls[i] = scriptCall{keys: b.shardKeys(i), args: []any{string(f.State), f.Flow, f.Limit + 1, atArg, afterKey}}
	}
	vals, errs, _, _ := evalBatch(ctx, b.client, listScript, calls, 0, 0)
	type row struct {
		key string
		at  int64 // unix ns, as the cursor has it
	}
	var rows []row
	for i, v := range vals {
		if errs[i] != nil {
			return Page{}, fmt.Errorf("store: list: %w", errs[i])
		}
		flat, _ := v.([]any)
		for j := 0; j+1 < len(flat); j += 2 {
			key, _ := flat[j].(string)
			score, _ := flat[j+1].(string)
			n, err := strconv.ParseFloat(score, 64)
			if err != nil {
				return Page{}, &corruptError{key: key, what: fmt.Sprintf("list index score %q", score)}
			}
			at := int64(n) * int64(time.Millisecond)
			if f.After != "" && (at > afterAt || at == afterAt && key >= afterKey) {
				continue
			}
			rows = append(rows, row{key, at})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Or(cmp.Compare(b.at, a.at), strings.Compare(b.key, a.key)) })
	// An index left with a stale entry (a record that expired, then came
	// back) may name a key twice: the newest counts.
	seen := map[string]bool{}
	rows = slices.DeleteFunc(rows, func(r row) bool {
		dup := seen[r.key]
		seen[r.key] = true
		return dup
	})
	var p Page
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		last := rows[len(rows)-1]
		p.Next = formatCursor(last.at, last.key)
	}
	if len(rows) == 0 {
		return p, nil
	}
	pipe := b.client.Pipeline()
	cmds := make([]interface{ Result() ([]any, error) }, len(rows))
	for i, r := range rows {
		cmds[i] = pipe.HMGet(ctx, b.FullKey(r.key), recordFields...)
	}
	_, _ = pipe.Exec(ctx)
	for i, r := range rows {
		v, err := cmds[i].Result()
		if err != nil {
			return Page{}, fmt.Errorf("store: list: %w", err)
		}
		rec, found, err := parseRecord(r.key, v)
		if err != nil {
			return Page{}, err
		}
		if !found || !rec.Custody || !Listed(rec.State) || f.State != "" && rec.State != f.State || f.Flow != "" && rec.Flow != f.Flow {
			continue
		}
		p.Items = append(p.Items, Delivery{Key: r.key, Record: rec, Ambiguous: rec.Ambiguous})
	}
	return p, nil
}

// statsScript: forgets up to statsTrim of the shard's expired records.
// Returns {1} if there may be more, else {0, oldest, flow, state, count,
// …}: the creation time (unix ms) of its oldest queued or processing
// record in custody ("" if none), and its counts by flow and state.
var statsScript = newLuaScript(luaShardScript + `
if trim(tonumber(ARGV[1])) == tonumber(ARGV[1]) then return {1} end
local o = redis.call('ZRANGE', openK, 0, 0, 'WITHSCORES')
local out = {0, o[2] or ''}
for _, f in ipairs(redis.call('SMEMBERS', flowsK)) do
  for _, s in ipairs(listedStates) do
    local n = redis.call('ZCARD', listK(s, f))
    if n > 0 then
      out[#out + 1] = f
      out[#out + 1] = s
      out[#out + 1] = n
    end
  end
end
return out
`)

// statsTrim bounds what one run of statsScript forgets, so that a wave
// of expiries does not block Redis: Stats runs it again on the shards
// that had more. (A variable for the tests.)
var statsTrim = 500

// Stats implements Queue. The counts are the sizes of the shards' list
// indexes, once each shard has forgotten its expired records: nothing
// is counted up or down, so nothing drifts.
func (b *RedisBackend) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Count: map[string]map[State]int{}}
	shards := make([]int, redisShards)
	for i := range shards {
		shards[i] = i
	}
	for len(shards) > 0 {
		calls := make([]scriptCall, len(shards))
		for j, i := range shards {
			calls[j] = scriptCall{keys: b.shardKeys(i), args: []any{statsTrim}}
		}
		vals, errs, _, _ := evalBatch(ctx, b.client, statsScript, calls, 0, 0)
		var more []int
		for j, v := range vals {
			if errs[j] != nil {
				return Stats{}, fmt.Errorf("store: stats: %w", errs[j])
			}
			again, err := st.addShard(v)
			if err != nil {
				return Stats{}, err
			}
			if again {
				more = append(more, shards[j])
			}
		}
		shards = more
	}
	return st, nil
}

// addShard adds what statsScript returned for a shard; again reports
// that the shard had more to forget first.
func (st *Stats) addShard(v any) (again bool, err error) {
	flat, _ := v.([]any)
	if len(flat) == 1 && flat[0] == int64(1) {
		return true, nil
	}
	if len(flat)%3 != 2 || flat[0] != int64(0) {
		return false, &corruptError{key: "(stats)", what: fmt.Sprintf("stats returned %v", v)}
	}
	if s, _ := flat[1].(string); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false, &corruptError{key: "(stats)", what: fmt.Sprintf("oldest %q", s)}
		}
		if t := msTime(int64(n)); st.OldestQueued.IsZero() || t.Before(st.OldestQueued) {
			st.OldestQueued = t
		}
	}
	for j := 2; j < len(flat); j += 3 {
		flow, _ := flat[j].(string)
		state, _ := flat[j+1].(string)
		n, _ := flat[j+2].(int64)
		if st.Count[flow] == nil {
			st.Count[flow] = map[State]int{}
		}
		st.Count[flow][State(state)] += int(n)
	}
	return false, nil
}
