package billbridge

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// custody runs the delivery workers of one config: it leases the payments
// the store holds that are due, and delivers each with the flow that took
// it. It starts and stops with the app, so a reload hands over to the new
// config's set: the store's leases keep the two from delivering one
// payment twice while both run.
type custody struct {
	queue  store.Queue
	owner  string
	logger *zap.Logger

	mu    sync.Mutex
	flows map[string]*Handler // by Profile.Key; the first handler of a key delivers
	lease time.Duration
	grace time.Duration // how long Stop waits for deliveries in flight

	slots   chan struct{} // one per delivery in flight
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	running sync.WaitGroup
	started bool
}

// custodyPoll is how often the workers look for payments that came due;
// a payment held by this instance is delivered at once.
var custodyPoll = time.Second

// custodySlots is how many deliveries run at once in one instance.
const custodySlots = 8

func newCustody(q store.Queue, logger *zap.Logger) *custody {
	return &custody{
		queue:  q,
		owner:  "worker-" + newOwner(),
		logger: logger,
		flows:  map[string]*Handler{},
		slots:  make(chan struct{}, custodySlots),
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// register makes h the deliverer of its flow's held payments.
func (c *custody) register(h *Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.flows[h.profile.Key]; !ok {
		c.flows[h.profile.Key] = h
	}
	p := h.profile.Payment
	c.lease = max(c.lease, time.Duration(p.Lease))
	c.grace = max(c.grace, time.Duration(h.app.Legacy.Timeout)+5*time.Second)
}

// flow returns the handler that delivers a flow's payments.
func (c *custody) flow(key string) *Handler {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flows[key]
}

// start runs the workers.
func (c *custody) start() {
	c.started = true
	go c.loop()
}

// wake makes the workers look for due payments now. Safe on nil.
func (c *custody) wake() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// shutdown stops taking payments and waits for the deliveries in flight:
// each ends within its legacy timeout. One still running after the grace
// is left to its lease, and the next worker asks lookup before posting.
func (c *custody) shutdown() {
	if !c.started {
		return
	}
	close(c.stop)
	<-c.done
	finished := make(chan struct{})
	go func() { c.running.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(c.grace):
		c.logger.Warn("deliveries still in flight at stop; their leases hand them to the next worker, which asks lookup first")
	}
}

func (c *custody) loop() {
	defer close(c.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		case <-t.C:
		}
		more := c.round()
		t.Stop()
		if more {
			t.Reset(0)
		} else {
			t.Reset(custodyPoll)
		}
	}
}

// round leases as many due payments as there are free slots and starts
// their deliveries; more reports that there may be more due.
func (c *custody) round() (more bool) {
	free := cap(c.slots) - len(c.slots)
	if free == 0 {
		return false // a delivery that ends wakes the loop
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ds, err := c.queue.Due(ctx, c.owner, free, c.lease)
	cancel()
	if err != nil {
		c.logger.Warn("cannot lease due payments from the store; trying again", zap.Error(err))
		return false
	}
	for _, d := range ds {
		c.slots <- struct{}{}
		c.running.Add(1)
		go func() {
			defer func() {
				<-c.slots
				c.running.Done()
				c.wake()
			}()
			c.deliver(d)
		}()
	}
	return len(ds) == free
}

// deliver hands a leased payment to its flow. A payment of a flow this
// config does not deliver (removed, renamed) waits in the queue for one
// that does.
func (c *custody) deliver(d store.Delivery) {
	if h := c.flow(d.Record.Flow); h != nil {
		h.deliver(c.queue, c.owner, d)
		return
	}
	c.logger.Error("a held payment's flow is not in this config; it waits",
		zap.String("key", d.Key), zap.String("flow", d.Record.Flow))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := store.Attempt{Outcome: "no_flow", Error: "no handler of flow " + d.Record.Flow + " in the running config"}
	_ = c.queue.Retry(ctx, d.Key, c.owner, a, d.Ambiguous, time.Minute, defaultRetention) // the flow, and so its retention, is unknown here
}
