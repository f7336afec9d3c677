package store

import (
	"hash/fnv"
	"strconv"
)

// The Redis store's key layout. A transition changes a record and its
// place in the custody queue in one Lua script, and a script may only
// touch keys of one Redis Cluster slot, so records are sharded by a hash
// tag: a record and the queue structures it lives in share their shard's
// tag, and so its slot.
//
// With prefix P (key_prefix) and shard tag T (two digits, "00" to "63"):
//
//	P{T}:<logical>           the record: a hash (see recordFields)
//	P{T}#due                 sorted set of the records to deliver: member the
//	                         logical key, score when it is due in unix ms
//	                         (next attempt when queued, lease end when a
//	                         worker holds it)
//	P{T}#open                sorted set of the queued and processing records
//	                         in custody, by creation time (Stats' oldest)
//	P{T}#exp                 sorted set of every record in custody that List
//	                         shows, by the time its hash expires: what the
//	                         indexes must forget once Redis has dropped it
//	P{T}#flows               set of the flows that have had records here
//	P{T}#list:<state>:<flow> sorted set of the records in custody in that
//	                         state, by update time (List; Stats counts it)
//
// T is the FNV-1a hash of the logical key modulo redisShards. A record
// key has ":" after the tag and the queue's keys "#", so neither can be
// mistaken for the other; and as key_prefix has no braces, keys of
// different prefixes never meet either.

// redisShards is the number of shards of the Redis store. Changing it
// moves every logical key to another shard: records written before are
// orphaned (a payment done under the old layout could be claimed and
// posted again). Sixty-four spread well over a cluster of up to a few
// dozen masters; a shard is one slot, so one master serves it.
const redisShards = 64

// shardOf returns the shard of a logical key.
func shardOf(logical string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(logical)) // a hash.Hash never fails to write
	return int(h.Sum32() % redisShards)
}

// shardTag is the hash tag of shard i, braces included.
func shardTag(i int) string {
	if i < 10 {
		return "{0" + strconv.Itoa(i) + "}"
	}
	return "{" + strconv.Itoa(i) + "}"
}

// recordBase is what precedes the logical key in the keys of shard i's
// records.
func recordBase(prefix string, i int) string {
	return prefix + shardTag(i) + ":"
}

// queueBase is what precedes the names of shard i's queue structures.
func queueBase(prefix string, i int) string {
	return prefix + shardTag(i) + "#"
}

func fullKey(prefix, logical string) string {
	return recordBase(prefix, shardOf(logical)) + logical
}

// keys returns a record's key and its shard's queue base: the KEYS of
// every script that changes a record.
func (b *RedisBackend) keys(logical string) []string {
	i := shardOf(logical)
	return []string{recordBase(b.prefix, i) + logical, queueBase(b.prefix, i)}
}

// shardKeys returns shard i's queue base and record base: the KEYS of the
// scripts that work on a whole shard (Due, Stats, List).
func (b *RedisBackend) shardKeys(i int) []string {
	return []string{queueBase(b.prefix, i), recordBase(b.prefix, i)}
}
