package store

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

// The store's tests run against a real redis-server (design.md §8),
// started by internal/redistest on a free port (never 6379), or the one at
// BILLBRIDGE_TEST_REDIS; without redis-server they skip, unless
// BILLBRIDGE_REQUIRE_REDIS=1 makes that a failure.

type redisServer = redistest.Server

func startRedisServer(tb testing.TB) *redisServer { return redistest.Start(tb) }

func testRedisAddr(tb testing.TB) string { return redistest.Addr(tb) }

func newTestClient(tb testing.TB, addr string) *redis.Client { return redistest.NewClient(tb, addr) }

func testPrefix(tb testing.TB, c redis.UniversalClient) string { return redistest.Prefix(tb, c) }

func freePort() (int, error) { return redistest.FreePort() }
