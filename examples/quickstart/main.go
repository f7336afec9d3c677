// Command quickstart is the one-command billbridge demo:
//
//	go run ./examples/quickstart
//
// It starts, in one process, a demo legacy billing API (package legacy, on
// 127.0.0.1:8081) and Caddy with billbridge configured by the embedded
// Caddyfile (on 127.0.0.1:8080), prints curl commands that play Bill24's
// part, and runs until Ctrl-C.
//
// Flags:
//
//	-listen       where Caddy listens (default 127.0.0.1:8080; ":8080" for
//	              every interface)
//	-legacy-addr  where the legacy API listens (default 127.0.0.1:8081)
//
// BILL24_TOKEN (the token header Bill24 sends) and LEGACY_API_KEY (the
// X-Api-Key the legacy API wants) default to demo-token and demo-key.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/billbridge/caddy-billbridge"
	"github.com/billbridge/caddy-billbridge/examples/quickstart/legacy"
)

//go:embed Caddyfile
var embeddedCaddyfile []byte

// Demo secrets, used when the environment does not set them.
const (
	defaultBill24Token = "demo-token"
	defaultLegacyKey   = "demo-key"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "`address` Caddy (billbridge) listens on")
	legacyAddr := flag.String("legacy-addr", "127.0.0.1:8081", "`address` the demo legacy billing API listens on")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "quickstart: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}

	d, err := start(*listen, *legacyAddr, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	if err := d.printUsage(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	fmt.Println("\nquickstart: stopping")
	if err := d.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// demo is a running quickstart: the legacy API and Caddy.
type demo struct {
	legacy       *legacy.Server
	legacyHTTP   *http.Server
	legacyURL    string // http://host:port to reach the legacy API
	caddyURL     string // http://host:port to reach Caddy
	tokenFromEnv bool   // BILL24_TOKEN came from the environment
	keyFromEnv   bool   // LEGACY_API_KEY came from the environment
}

// start runs the legacy API on legacyAddr and Caddy, with the embedded
// Caddyfile, on listen. The legacy API logs its requests to logOut.
func start(listen, legacyAddr string, logOut io.Writer) (*demo, error) {
	bindHost, port, err := splitListen(listen)
	if err != nil {
		return nil, fmt.Errorf("-listen: %w", err)
	}
	d := &demo{
		caddyURL:     "http://" + net.JoinHostPort(dialHost(bindHost), port),
		tokenFromEnv: setDefaultEnv("BILL24_TOKEN", defaultBill24Token),
		keyFromEnv:   setDefaultEnv("LEGACY_API_KEY", defaultLegacyKey),
	}

	// The legacy API first, so Caddy has something to talk to.
	ln, err := net.Listen("tcp", legacyAddr)
	if err != nil {
		return nil, fmt.Errorf("starting the legacy API: %w", err)
	}
	lhost, lport, _ := net.SplitHostPort(ln.Addr().String())
	legacyHostPort := net.JoinHostPort(dialHost(lhost), lport)
	d.legacyURL = "http://" + legacyHostPort
	d.legacy = legacy.New()
	d.legacy.SetAPIKey(os.Getenv("LEGACY_API_KEY"))
	d.legacy.SetLogger(log.New(logOut, "legacy | ", log.Ltime))
	d.legacyHTTP = &http.Server{Handler: d.legacy, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := d.legacyHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("legacy API: %v", err)
		}
	}()

	// {$VAR} placeholders are substituted when the Caddyfile is adapted.
	for k, v := range map[string]string{
		"QUICKSTART_BIND":   caddyBind(bindHost),
		"QUICKSTART_PORT":   port,
		"QUICKSTART_LEGACY": legacyHostPort,
	} {
		if err := os.Setenv(k, v); err != nil {
			_ = d.legacyHTTP.Close()
			return nil, err
		}
	}
	cfgJSON, err := adapt()
	if err == nil {
		err = caddy.Load(cfgJSON, true)
	}
	if err != nil {
		_ = d.legacyHTTP.Close()
		return nil, err
	}
	return d, nil
}

// adapt turns the embedded Caddyfile into Caddy JSON, printing warnings.
func adapt() ([]byte, error) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		return nil, errors.New("the caddyfile adapter is not registered")
	}
	cfgJSON, warnings, err := adapter.Adapt(embeddedCaddyfile, map[string]any{"filename": "Caddyfile"})
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "quickstart: Caddyfile warning: %s\n", w)
	}
	if err != nil {
		return nil, fmt.Errorf("adapting the embedded Caddyfile: %w", err)
	}
	return cfgJSON, nil
}

// stop stops Caddy, then the legacy API.
func (d *demo) stop() error {
	err := caddy.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, d.legacyHTTP.Shutdown(ctx))
}

// splitListen splits -listen into the host to bind ("" for every
// interface) and a port number.
func splitListen(listen string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(listen)
	if err != nil {
		return "", "", err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return host, port, nil
}

// caddyBind writes a bind host for the Caddyfile's default_bind, which takes
// no argument for every interface and needs brackets around IPv6.
func caddyBind(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// dialHost is the host a local client uses to reach a listener bound to host.
func dialHost(host string) string {
	if host == "" {
		return "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() == nil {
			return "::1"
		}
		return "127.0.0.1"
	}
	return host
}

// setDefaultEnv sets key to def unless the environment has it, and reports
// whether the environment had it.
func setDefaultEnv(key, def string) bool {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return true
	}
	_ = os.Setenv(key, def)
	return false
}

// webhookV1 is Bill24's current webhook shape, examples/payloads/
// bill24_webhook_v1.json compacted, inline so the printed curl works from
// any directory (TestWebhookV1MatchesPayload keeps the two the same).
const webhookV1 = `{"tran_id":"348b4b16-1f06-4563-8204-105a8420a067","tran_no":"6K0BTGwG7HsF",` +
	`"payment_service_type":"Bank Channel","tran_date":"2024-11-29T16:58:16.727168","tran_amount":45,` +
	`"currency":"USD","bank_code":"AC","bank_name":"ACLEDA","bank_ref":"AC00112301",` +
	`"identity_code":"37627011","purpose_of_transaction":"","device_code":"","status":"success",` +
	`"customers":[{"branch_code":"","branch_name":"","customer_code":"37627011",` +
	`"customer_name":"MAO SAMON","customer_name_latin":"","bill_no":"","amount":45}]}`

// printUsage says what is listening and how to play Bill24 with curl.
func (d *demo) printUsage(w io.Writer) error {
	token, tokenNote := "'token: "+defaultBill24Token+"'", defaultBill24Token
	if d.tokenFromEnv {
		token, tokenNote = `"token: $BILL24_TOKEN"`, "from $BILL24_TOKEN" //nolint:gosec // G101: names the variable, holds no secret
	}
	key, keyNote := "'X-Api-Key: "+defaultLegacyKey+"'", defaultLegacyKey
	if d.keyFromEnv {
		key, keyNote = `"X-Api-Key: $LEGACY_API_KEY"`, "from $LEGACY_API_KEY"
	}
	proxy := func(code string) string {
		return fmt.Sprintf(`curl -s %s/bill24/proxy -H %s -H 'Content-Type: application/json' -d '{"consumer_code":"%s"}'`,
			d.caddyURL, token, code)
	}

	_, err := fmt.Fprintf(w, `
billbridge quickstart

  demo legacy billing API  %s   (X-Api-Key: %s)
  Caddy with billbridge    %s   (Bill24 token: %s)
      POST /bill24/proxy     Bill24 asks what a customer owes
      POST /bill24/webhook   Bill24 reports a payment

Play Bill24:

  # What does CU003035 owe? (code 0; also try 12340001, CU000000 → 3,
  # CU000001 → 2, CU000002 → 4, NOPE123 → 1)
  %s

  # Customer 37627011 pays 45 USD; Bill24 delivers the webhook 3 times.
  for i in 1 2 3; do curl -s %s/bill24/webhook -H %s -H 'Content-Type: application/json' \
    -d '%s'; echo; done

  # The legacy ledger booked it once; the customer owes nothing now (code 3).
  curl -s %s/api/ledger -H %s
  %s

Ctrl-C to stop.

`, d.legacyURL, keyNote, d.caddyURL, tokenNote,
		proxy("CU003035"),
		d.caddyURL, token, webhookV1,
		d.legacyURL, key,
		proxy("37627011"))
	return err
}
