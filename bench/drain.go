package main

import (
	"context"
	"time"
)

// delivery is what the legacy stub saw of one run of a queued scenario
// ((f), (g)): the gateway was answered as soon as each payment was held,
// and the delivery workers posted it meanwhile or afterwards.
type delivery struct {
	Mode     string `json:"mode"`
	Round    int    `json:"round,omitempty"`
	Scenario string `json:"scenario"`
	// Answered is the payments answered 200 in the run, warm-up included.
	Answered int64 `json:"answered"`
	// LoadSeconds is the time from just before the load generator
	// started to just after it ended; DeliveredLoad the payments the stub
	// booked meanwhile.
	LoadSeconds   float64 `json:"load_s"`
	DeliveredLoad int64   `json:"delivered_during_load"`
	PerSecLoad    float64 `json:"delivered_per_s_during_load"`
	// Backlog is how many answered payments the stub did not have yet
	// when the load stopped; DrainSeconds how long they then took.
	Backlog      int64   `json:"backlog_at_stop"`
	DrainSeconds float64 `json:"drain_s"`
	PerSecDrain  float64 `json:"delivered_per_s_draining"`
	// DrainCores is the CPU the whole stack (every Caddy, the stub,
	// Redis) used per second while draining; DrainCPUPerPayment the same
	// per payment delivered then, in µs.
	DrainCores         float64 `json:"drain_cores"`
	DrainCPUPerPayment float64 `json:"drain_cpu_us_per_payment"`
	DrainMachineBusy   float64 `json:"drain_machine_busy_pct"`
	// Drained: the stub had every answered payment within the bound.
	Drained bool `json:"drained"`
}

// stackCPU is the CPU time used so far by every process of the stack but
// the load generator.
func (c cpuSnap) stackCPU() time.Duration { return c.allCaddies + c.stub + c.redis }

// expectedPayments is how many form payments the stub should have booked
// once every queue is empty: every unique webhook answered 200, and the
// smoke test's.
func (b *bench) expectedPayments(rep *report) int64 { return rep.webhookGood + b.smokes }

// drain measures a queued scenario's delivery after its load: st0 and t0
// were read just before the load generator started, answered is how many
// payments it got 200 for. It waits, at most maxWait, until the stub has
// every payment answered so far, so that the backlog's delivery does not
// weigh on the next scenario, and records how long that took and what it
// cost.
func (b *bench) drain(ctx context.Context, rep *report, s *scenario, mode string, rnd int,
	st0 stubStats, t0 time.Time, answered int64, maxWait time.Duration) (*delivery, error) {
	st1, err := b.stubStats()
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	c1 := b.cpu(s.caddy)
	want := b.expectedPayments(rep)
	d := &delivery{Mode: mode, Round: rnd, Scenario: s.Key, Answered: answered,
		LoadSeconds: t1.Sub(t0).Seconds(), DeliveredLoad: st1.Payments - st0.Payments,
		Backlog: max(0, want-st1.Payments)}
	if d.LoadSeconds > 0 {
		d.PerSecLoad = round(float64(d.DeliveredLoad)/d.LoadSeconds, 0)
	}
	st := st1
	deadline := t1.Add(maxWait)
	for st.Payments < want && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if st, err = b.stubStats(); err != nil {
			return nil, err
		}
	}
	t2 := time.Now()
	c2 := b.cpu(s.caddy)
	d.Drained = st.Payments >= want
	if d.Backlog > 0 {
		d.DrainSeconds = round(t2.Sub(t1).Seconds(), 2)
		drained := st.Payments - st1.Payments
		if d.DrainSeconds > 0 {
			d.PerSecDrain = round(float64(drained)/t2.Sub(t1).Seconds(), 0)
			d.DrainCores = round((c2.stackCPU()-c1.stackCPU()).Seconds()/t2.Sub(t1).Seconds(), 2)
		}
		if drained > 0 {
			d.DrainCPUPerPayment = round(float64(c2.stackCPU()-c1.stackCPU())/float64(time.Microsecond)/float64(drained), 1)
		}
		if t := c2.total - c1.total; t > 0 {
			d.DrainMachineBusy = round(100*(c2.busy-c1.busy)/t, 1)
		}
	}
	rep.Deliveries = append(rep.Deliveries, d)
	if !d.Drained {
		logf("  (%s): %d payments still undelivered after %s", s.Key, want-st.Payments, maxWait)
	}
	return d, nil
}
