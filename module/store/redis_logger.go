package store

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// go-redis writes its own notes (a pool that cannot dial, a failover seen
// by the sentinel client) with the standard library's logger, in plain
// text on stderr, around Caddy's structured logs: a `format json` pipeline
// breaks on them. Its logger is process-wide, so it is set once, to one
// that writes through Caddy's default logger of the moment.
func init() {
	redis.SetLogger(redisLogger{})
}

type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	caddy.Log().Named("billbridge.store.redis").Warn(fmt.Sprintf(format, v...))
}
