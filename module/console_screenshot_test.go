package billbridge

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// TestConsoleScreenshot makes the README's picture of the console,
// examples/production/console.png: the list and a dead payment's page, side by side, as
// headless Chromium draws them. It runs only when asked:
//
//	BILLBRIDGE_CONSOLE_SCREENSHOT=$PWD/examples/production/console.png go test ./module -run TestConsoleScreenshot
//
// The scene is made through the store's Queue methods; the console is
// served as basic_auth hands it a signed-in operator.
func TestConsoleScreenshot(t *testing.T) {
	out := os.Getenv("BILLBRIDGE_CONSOLE_SCREENSHOT")
	if out == "" {
		t.Skip("set BILLBRIDGE_CONSOLE_SCREENSHOT to the PNG to write")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: apt-get install chromium")
	}
	env := newConsoleEnv(t, nil)
	ctx := t.Context()
	ack := store.Response{Status: 200, ContentType: JSONType, Body: []byte(`{"status":"Success","message":"SUCCESS"}`)}
	// hold takes an event into custody and ends its first attempts as
	// end says (nil: left queued).
	hold := func(flow, id string, attempts []store.Attempt, end func(key, owner string, a store.Attempt) error) string {
		key := flow + ":" + id
		if _, err := env.mem.Hold(ctx, store.Entry{Key: key, Flow: flow, Fingerprint: "fp", Payload: testPayload, Response: ack}, testRetention); err != nil {
			t.Fatal(err)
		}
		for i, a := range attempts {
			owner := "W-" + key
			ds, err := env.mem.Due(ctx, owner, 1, time.Minute)
			if err != nil || len(ds) != 1 || ds[0].Key != key {
				t.Fatalf("Due = %+v, %v: want %s alone", ds, err, key)
			}
			switch last := i == len(attempts)-1; {
			case last && end != nil:
				err = end(key, owner, a)
			case last: // queued, due later: the next hold's Due does not take it
				err = env.mem.Retry(ctx, key, owner, a, false, 40*time.Second, testRetention)
			default:
				err = env.mem.Retry(ctx, key, owner, a, false, 0, testRetention)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
		return key
	}
	down := store.Attempt{Outcome: "legacy_failed", Error: "legacy system unreachable: dial tcp 10.0.0.12:8080: connect: connection refused"}
	timeout := store.Attempt{Outcome: "legacy_timeout", Error: "legacy system did not answer in 10s"}
	refused := store.Attempt{Outcome: "legacy_refused", Legacy: 400, Error: "legacy system did not accept the payment (HTTP 400)"}
	khmer := "rejected by the legacy system: វិក្កយបត្រ INV-2024-0042 មិនមានក្នុងប្រព័ន្ធ (no such invoice)"
	bury := func(reason string) func(key, owner string, a store.Attempt) error {
		return func(key, owner string, a store.Attempt) error {
			return env.mem.Bury(ctx, key, owner, a, false, reason, testRetention)
		}
	}
	hold("qm:callback", "B-2024-118", []store.Attempt{down}, nil)
	discarded := hold("bill24:webhook", "6K0BTGwG7HsF", []store.Attempt{refused}, bury("rejected by the legacy system: "+refused.Error))
	if _, err := env.mem.Discard(ctx, discarded, "បង់ដោយដៃនៅបញ្ជរ — booked by hand at the counter", testRetention); err != nil {
		t.Fatal(err)
	}
	hold("shop-a:bill24:webhook", "TX-88123", []store.Attempt{down, down, timeout, down}, bury("gave up after 4 attempts over 72h0m0s: "+down.Error))
	hold("bill24:webhook", "348b4b16-9d1e-4a0c-b5a2-1f0e6c2d7a91", []store.Attempt{timeout, down}, nil)
	dead := hold("bill24:webhook", "BUb4CmDE", []store.Attempt{down, timeout, refused}, bury(khmer))
	hold("bill24:webhook", "7QpX3kLm", nil, nil)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repl := caddy.NewReplacer()
		repl.Set("http.auth.user.id", "ops")
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
		if err := env.console.ServeHTTP(w, r, nil); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()
	ref, _ := refOf(dead, "bill24:webhook")
	dir := t.TempDir()
	shoot := func(name, target string) image.Image {
		file := filepath.Join(dir, name+".png")
		cmd := exec.CommandContext(ctx, chromium, //nolint:gosec // G204: chromium on PATH, on the test's own server
			"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			"--force-device-scale-factor=1", "--window-size=1100,900", "--screenshot="+file, srv.URL+target)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, b)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	list := shoot("list", "/ops/")
	event := shoot("event", "/ops/event?e="+url.QueryEscape(ref.String()))
	lb, eb := list.Bounds(), event.Bounds()
	const gap = 12
	both := image.NewRGBA(image.Rect(0, 0, lb.Dx()+gap+eb.Dx(), max(lb.Dy(), eb.Dy())))
	draw.Draw(both, both.Bounds(), image.NewUniform(image.White.C), image.Point{}, draw.Src)
	draw.Draw(both, lb.Sub(lb.Min), list, lb.Min, draw.Src)
	draw.Draw(both, eb.Sub(eb.Min).Add(image.Pt(lb.Dx()+gap, 0)), event, eb.Min, draw.Src)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, quantize(both)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %dx%d, %d KB", out, both.Bounds().Dx(), both.Bounds().Dy(), buf.Len()>>10)
}

// quantize maps img onto its 256 most frequent colours: a page is mostly
// flat colour, and the PNG shrinks to a third.
func quantize(img *image.RGBA) *image.Paletted {
	freq := map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			freq[img.RGBAAt(x, y)]++
		}
	}
	colors := make([]color.RGBA, 0, len(freq))
	for c := range freq {
		colors = append(colors, c)
	}
	slices.SortFunc(colors, func(a, b color.RGBA) int { return freq[b] - freq[a] })
	pal := make(color.Palette, 0, 256)
	for _, c := range colors[:min(256, len(colors))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	draw.Draw(out, b, img, b.Min, draw.Src)
	return out
}
