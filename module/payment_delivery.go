package billbridge

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// The delivery modes of a payment (Payment.Deliver).
const (
	deliverQueued = "queued"
	deliverSync   = "sync"
)

// defaultSchedule is how long a queued payment waits after each failed
// attempt: soon at first (a blip), then further apart, for days (an outage
// over a weekend), the last delay repeating.
var defaultSchedule = []time.Duration{
	10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

const defaultGiveUpAfter = 7 * 24 * time.Hour

// provisionDelivery checks the delivery settings and fills in their
// defaults: queued on a store that keeps what it holds, sync otherwise.
func (p *Payment) provisionDelivery(app *App) error {
	if p.Retention <= 0 {
		p.Retention = caddy.Duration(defaultRetention)
	}
	q, isQueue := app.store.(store.Queue)
	durable := isQueue && storeIsDurable(q)
	switch p.Deliver {
	case "":
		p.Deliver = deliverSync
		if durable {
			p.Deliver = deliverQueued
		}
	case deliverSync:
	case deliverQueued:
		if !isQueue {
			return fmt.Errorf("deliver queued: store %T cannot hold payments", app.store)
		}
	default:
		return fmt.Errorf("deliver must be queued or sync, not %q", p.Deliver)
	}
	for i, d := range p.RetrySchedule {
		if d <= 0 {
			return fmt.Errorf("retry_schedule: delay %d (%s) must be positive", i+1, time.Duration(d))
		}
	}
	if len(p.RetrySchedule) == 0 {
		for _, d := range defaultSchedule {
			p.RetrySchedule = append(p.RetrySchedule, caddy.Duration(d))
		}
	}
	switch {
	case p.GiveUpAfter < 0:
		return fmt.Errorf("give_up_after must be positive, got %s", time.Duration(p.GiveUpAfter))
	case p.GiveUpAfter == 0:
		p.GiveUpAfter = caddy.Duration(min(defaultGiveUpAfter, time.Duration(p.Retention)))
	case p.GiveUpAfter > p.Retention:
		return fmt.Errorf("give_up_after %s is longer than retention %s: a payment still being retried would be forgotten",
			time.Duration(p.GiveUpAfter), time.Duration(p.Retention))
	}
	return nil
}

// queued reports whether payments are held and delivered by a worker.
func (p *Payment) queued() bool { return p.Deliver == deliverQueued }

// retryDelay is how long to wait after the given worker attempt (1-based).
func (p *Payment) retryDelay(attempt int) time.Duration {
	i := min(max(attempt, 1), len(p.RetrySchedule)) - 1
	return time.Duration(p.RetrySchedule[i])
}

// storeIsDurable reports whether a store keeps what it holds across a
// restart: every store but memory.
func storeIsDurable(s store.Store) bool {
	_, mem := s.(*store.MemoryBackend)
	return !mem
}

// scheduleArgs parses `retry_schedule <duration>...`.
func scheduleArgs(d *caddyfile.Dispenser) ([]caddy.Duration, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	out := make([]caddy.Duration, 0, len(args))
	for _, a := range args {
		dur, err := caddy.ParseDuration(a)
		if err != nil || dur <= 0 {
			return nil, d.Errf("retry_schedule: invalid duration %q", a)
		}
		out = append(out, caddy.Duration(dur))
	}
	return out, nil
}
