package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	crashFlow   = "bill24:webhook"
	crashHeld   = 200 // held before the workers lease
	crashLeased = 50  // leased by the child's worker, in flight when it dies
	crashLease  = time.Second
)

// crashPayload is a 300-byte payload with every kind of byte in it.
func crashPayload(key string) []byte {
	p := []byte(key + "|ម៉ៅ សាមន|")
	for i := 0; len(p) < 300; i++ {
		p = append(p, byte(i))
	}
	return p[:300]
}

func crashEntry(key string) Entry {
	return Entry{Key: key, Flow: crashFlow, Fingerprint: "fp-" + key, Payload: crashPayload(key),
		Response: Response{Status: 200, ContentType: "application/json", Body: []byte(`{"status":"Success"}`)}}
}

// helperCrash is the child of TestFileCrash: it holds crashHeld events,
// leases crashLeased of them, then holds more from 8 goroutines until it
// is killed. It writes "ack <key>" after each Hold returns, "leased
// <key>" after Due returns, and "streaming" before the stream.
func helperCrash(path string) error {
	b, err := OpenFileBackend(path)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...) // one write(2) a line: unbuffered
	}
	ctx := context.Background()
	hold := func(key string) error {
		res, err := b.Hold(ctx, crashEntry(key), time.Hour)
		if err != nil {
			return err
		}
		if res.Outcome != Queued {
			return fmt.Errorf("hold %s: %v", key, res.Outcome)
		}
		say("ack %s", key)
		return nil
	}
	for i := range crashHeld {
		if err := hold(fmt.Sprintf("%s:base-%03d", crashFlow, i)); err != nil {
			return err
		}
	}
	ds, err := b.Due(ctx, "child-worker", crashLeased, crashLease)
	if err != nil {
		return err
	}
	for _, d := range ds {
		say("leased %s", d.Key)
	}
	say("streaming")
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for n := 0; ; n++ {
				if err := hold(fmt.Sprintf("%s:stream-%d-%06d", crashFlow, g, n)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	return <-errs
}

// TestFileCrash kills a process with SIGKILL in the middle of a stream
// of Holds, with deliveries in flight, and opens its file: every Hold
// that had returned is there, queued or processing; the deliveries in
// flight are taken over after their lease, as ambiguous; the file and
// its indexes are sound.
//
// A SIGKILL loses what the process had not written; the kernel keeps
// what it had. Power loss is fsync's part (bbolt's default, kept).
func TestFileCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "events.db")
	cmd, out, _ := helperProcess(t, "crash", path)

	acked := map[string]bool{}
	leased := map[string]bool{}
	streamed := 0
	streaming := false
	killed := false
	deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for out.Scan() {
		verb, key, _ := strings.Cut(out.Text(), " ")
		switch verb {
		case "ack":
			acked[key] = true
			if streaming {
				streamed++
			}
		case "leased":
			leased[key] = true
		case "streaming":
			streaming = true
		default:
			t.Fatalf("helper said %q", out.Text())
		}
		if streamed == 500 && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !killed || !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v (killed by the test: %v)", err, killed)
	}
	if len(leased) != crashLeased {
		t.Fatalf("the helper leased %d, want %d", len(leased), crashLeased)
	}
	nAcked := len(acked)
	t.Logf("killed after %d acknowledged holds (%d during the stream)", nAcked, streamed)

	b, err := OpenFileBackend(path)
	if err != nil {
		t.Fatalf("opening the file after the crash: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	checkFile(t, b)

	ctx := t.Context()
	var leaseEnd time.Time
	for key := range acked {
		r, found, err := b.Get(ctx, key)
		if err != nil || !found {
			t.Fatalf("acknowledged %s is lost: found %v, %v", key, found, err)
		}
		want := StateQueued
		if leased[key] {
			want = StateProcessing
			leaseEnd = r.LeaseUntil
		}
		if r.State != want || !r.Custody || !bytes.Equal(r.Payload, crashPayload(key)) {
			t.Fatalf("%s after the crash: state %s (want %s), custody %v, payload intact %v",
				key, r.State, want, r.Custody, bytes.Equal(r.Payload, crashPayload(key)))
		}
	}
	st, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Count[crashFlow]
	if c[StateProcessing] != crashLeased || c[StateQueued] < len(acked)-crashLeased {
		t.Errorf("counts after the crash = %v; %d acknowledged, %d leased", c, len(acked), crashLeased)
	}
	held := c[StateQueued] + c[StateProcessing]

	// The dead worker's leases run out; a new worker takes them over.
	time.Sleep(time.Until(leaseEnd) + 50*time.Millisecond)
	ds, err := b.Due(ctx, "after-crash", held+10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != held {
		t.Errorf("Due after the crash leased %d of %d held", len(ds), held)
	}
	for _, d := range ds {
		wasLeased := leased[d.Key]
		if d.Ambiguous != wasLeased || d.Record.Attempts != map[bool]int{true: 2, false: 1}[wasLeased] {
			t.Errorf("%s (in flight at the crash: %v): ambiguous %v, attempts %d", d.Key, wasLeased, d.Ambiguous, d.Record.Attempts)
		}
		delete(acked, d.Key)
	}
	if len(acked) != 0 {
		t.Errorf("%d acknowledged events not due after the crash", len(acked))
	}
	checkFile(t, b)
	if fi, err := os.Stat(path); err == nil {
		t.Logf("file: %d bytes; %d events held, %d of them acknowledged", fi.Size(), held, nAcked)
	}
}
