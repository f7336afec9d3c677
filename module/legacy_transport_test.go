package billbridge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parseTestLegacy reads a global option's legacy setting from a Caddyfile.
func parseTestLegacy(t *testing.T, block string) (*Legacy, error) {
	t.Helper()
	var a App
	if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("billbridge {\n" + block + "\n}")); err != nil {
		return nil, err
	}
	if a.Legacy == nil {
		t.Fatal("no legacy setting")
	}
	return a.Legacy, nil
}

// writePEM writes a PEM block to dir/name and returns the path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testPKI is a private CA with a server certificate for 127.0.0.1 and a
// client certificate, all on disk.
type testPKI struct {
	caFile, clientCert, clientKey string
	server                        tls.Certificate
	pool                          *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "billbridge test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "legacy"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	srvDER, srvKey := leaf(2, x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := leaf(3, x509.ExtKeyUsageClientAuth)
	cliKeyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{
		caFile:     writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER),
		clientCert: writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER),
		clientKey:  writePEM(t, dir, "client.key", "EC PRIVATE KEY", cliKeyDER),
		server:     tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
		pool:       x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	return p
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
})

// A legacy API behind a private CA: trusted through tls_trusted_ca_certs,
// refused without it (and then certainly not sent).
func TestLegacyTransportPrivateCA(t *testing.T) {
	s := httptest.NewTLSServer(okHandler)
	t.Cleanup(s.Close)
	s.Config.ErrorLog = nil
	caFile := writePEM(t, t.TempDir(), "legacy-ca.pem", "CERTIFICATE", s.Certificate().Raw)

	l, err := parseTestLegacy(t, "legacy "+s.URL+" {\n transport http {\n  tls_trusted_ca_certs "+caFile+"\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	newTestLegacy(t, l)
	ans, err := l.do(context.Background(), legacyRequest{method: http.MethodPost, pathQuery: "/pay", body: []byte("a=1")})
	if err != nil || ans.status != 200 || string(ans.body) != `{"ok":true}` {
		t.Fatalf("through the private CA: %d %q %v", ans.status, ans.body, err)
	}

	l2 := newTestLegacy(t, &Legacy{BaseURL: s.URL}) // system roots only
	_, err = l2.do(context.Background(), legacyRequest{method: http.MethodPost, pathQuery: "/pay", body: []byte("a=1")})
	var ce *callError
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &ce) || ce.uncertain() || !errors.As(err, &uae) {
		t.Fatalf("without the CA: got %v, want a certain unknown-authority failure", err)
	}
}

// A legacy API that requires a client certificate: presented through
// tls_client_auth, with the server's CA from tls_trust_pool.
func TestLegacyTransportClientCertificate(t *testing.T) {
	pki := newTestPKI(t)
	s := httptest.NewUnstartedServer(okHandler)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	s.Config.ErrorLog = nil
	s.StartTLS()
	t.Cleanup(s.Close)

	l, err := parseTestLegacy(t, "legacy "+s.URL+" {\n transport http {\n  tls_trust_pool file "+pki.caFile+
		"\n  tls_client_auth "+pki.clientCert+" "+pki.clientKey+"\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	newTestLegacy(t, l)
	ans, err := l.do(context.Background(), legacyRequest{method: http.MethodGet, pathQuery: "/lookup"})
	if err != nil || ans.status != 200 {
		t.Fatalf("with the client certificate: %d %v", ans.status, err)
	}

	l2, err := parseTestLegacy(t, "legacy "+s.URL+" {\n transport http {\n  tls_trust_pool file "+pki.caFile+"\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	newTestLegacy(t, l2)
	if ans, err := l2.do(context.Background(), legacyRequest{method: http.MethodGet, pathQuery: "/lookup"}); err == nil {
		t.Fatalf("without a client certificate: got %d, want an error", ans.status)
	}
}

func TestLegacyTransportCaddyfile(t *testing.T) {
	l, err := parseTestLegacy(t, `legacy https://billing.internal {
		timeout 8s
		transport http {
			dial_timeout 2s
			keepalive 60s
			keepalive_idle_conns_per_host 16
			tls_trust_pool file /etc/legacy/ca.pem
			tls_client_auth /etc/legacy/client.pem /etc/legacy/client.key
			network_proxy url http://proxy.internal:3128
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(l)
	want := `{"base_url":"https://billing.internal","timeout":8000000000,"transport":{"dial_timeout":2000000000,` +
		`"keep_alive":{"idle_timeout":60000000000,"max_idle_conns_per_host":16},` +
		`"network_proxy":{"from":"url","url":"http://proxy.internal:3128"},"protocol":"http",` +
		`"tls":{"ca":{"pem_files":["/etc/legacy/ca.pem"],"provider":"file"},` +
		`"client_certificate_file":"/etc/legacy/client.pem","client_certificate_key_file":"/etc/legacy/client.key"}}}`
	if string(got) != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}

	for _, tc := range []struct{ block, want string }{
		{"legacy http://a {\n transport fastcgi\n}", `legacy transport "fastcgi": the legacy API is reached with the http transport only`},
		{"legacy http://a {\n transport\n}", "wrong argument count"},
		{"legacy http://a {\n transport http\n transport http\n}", "legacy transport already specified"},
		{"legacy http://a {\n transport http {\n  retries 3\n }\n}", "unrecognized subdirective retries"},
		{"legacy ftp://alice:s3cret@billing.internal", `base URL "ftp://REDACTED@billing.internal" must start with http://`},
		{"legacy alice:s3cret@billing.internal", `base URL "REDACTED" must start with http://`},
		{`legacy "%zz://alice:s3cret@billing.internal"`, "not shown: it is not a valid URL"},
	} {
		_, err := parseTestLegacy(t, tc.block)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.block, err, tc.want)
		} else if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "alice") {
			t.Errorf("%q: error shows a secret: %v", tc.block, err)
		}
	}
}

func TestLegacyTransportRefused(t *testing.T) {
	for _, tc := range []struct{ base, transport, want string }{
		{"http://127.0.0.1:1", `{"protocol":"fastcgi","root":"/"}`, `transport "fastcgi": the legacy API is reached with the http transport only`},
		{"http://127.0.0.1:1", `{"root":"/"}`, `transport "": the legacy API is reached with the http transport only`},
		{"https://127.0.0.1:1", `{"protocol":"http","versions":["3"],"tls":{}}`, "HTTP/3 (versions 3) is not supported"},
		{"http://127.0.0.1:1", `{"protocol":"http","proxy_protocol":"v2"}`, "proxy_protocol is not supported"},
		{"http://127.0.0.1:1", `{"protocol":"http","tls":{}}`, `the transport has TLS settings but the base URL "http://127.0.0.1:1" is http://`},
		{"http://127.0.0.1:1", `{"protocol":"http","dial_timeout":"soon"}`, "transport: loading module 'http'"},
	} {
		l := &Legacy{BaseURL: tc.base, TransportRaw: json.RawMessage(tc.transport)}
		err := provisionTestLegacy(t, l)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.transport, err, tc.want)
		}
	}
}

// The legacy API is the merchant's own: a proxy from the environment is
// never used, a configured one always.
func TestLegacyTransportProxy(t *testing.T) {
	var mu sync.Mutex
	var proxied []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied = append(proxied, r.Method+" "+r.URL.String())
		mu.Unlock()
		_, _ = io.WriteString(w, `{"via":"proxy"}`)
	}))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)

	for _, transport := range []string{"", `{"protocol":"http","dial_timeout":"1s"}`} {
		l := &Legacy{BaseURL: "http://127.0.0.1:8081", TransportRaw: json.RawMessage(transport)}
		if transport == "" {
			l.TransportRaw = nil
		}
		newTestLegacy(t, l)
		if l.rt.Proxy != nil {
			t.Errorf("transport %q uses a proxy func; the environment's proxy must not apply", transport)
		}
	}

	l := newTestLegacy(t, &Legacy{BaseURL: "http://legacy.billbridge.test:8081",
		TransportRaw: json.RawMessage(`{"protocol":"http","network_proxy":{"from":"url","url":"` + proxy.URL + `"}}`)})
	ans, err := l.do(context.Background(), legacyRequest{method: http.MethodGet, pathQuery: "/lookup?ref=1"})
	if err != nil || string(ans.body) != `{"via":"proxy"}` {
		t.Fatalf("through the configured proxy: %q %v", ans.body, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(proxied) != 1 || proxied[0] != "GET http://legacy.billbridge.test:8081/lookup?ref=1" {
		t.Errorf("the proxy saw %q", proxied)
	}
}

// A config reload with the same transport keeps the warm connection; one
// whose CA file changed (same path, new bytes) gets a new pool.
func TestLegacyTransportPoolAcrossReloads(t *testing.T) {
	s := newWireStub(t)
	l1 := newTestLegacy(t, &Legacy{BaseURL: s.URL})
	if _, err := l1.do(context.Background(), legacyRequest{method: http.MethodGet, pathQuery: "/a"}); err != nil {
		t.Fatal(err)
	}
	// The new config is provisioned before the old one is cleaned up.
	l2 := newTestLegacy(t, &Legacy{BaseURL: s.URL})
	l1.cleanup()
	if l2.rt != l1.rt {
		t.Error("the same transport config built a second pool")
	}
	if _, err := l2.do(context.Background(), legacyRequest{method: http.MethodGet, pathQuery: "/b"}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections across the reload, want 1 (the warm one)", conns)
	}

	ca := writePEM(t, t.TempDir(), "ca.pem", "CERTIFICATE", newTestPKIRoot(t))
	raw := json.RawMessage(`{"protocol":"http","tls":{"ca":{"provider":"file","pem_files":["` + ca + `"]}}}`)
	a := newTestLegacy(t, &Legacy{BaseURL: "https://127.0.0.1:1", TransportRaw: raw})
	b := newTestLegacy(t, &Legacy{BaseURL: "https://127.0.0.1:1", TransportRaw: raw})
	if a.rt != b.rt {
		t.Error("the same TLS transport config, same CA bytes, built a second pool")
	}
	writePEM(t, filepath.Dir(ca), "ca.pem", "CERTIFICATE", newTestPKIRoot(t)) // rotated
	c := newTestLegacy(t, &Legacy{BaseURL: "https://127.0.0.1:1", TransportRaw: raw})
	if c.rt == a.rt {
		t.Error("a rotated CA file reused the pool built with the old CA")
	}
}

func newTestPKIRoot(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "rotated CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// billbridge's defaults apply to what a transport block leaves out; what
// it sets wins.
func TestLegacyTransportDefaults(t *testing.T) {
	for _, tc := range []struct {
		base, transport   string
		idlePerHost, idle int
		idleTimeout       time.Duration
		handshake         time.Duration
	}{
		{"http://127.0.0.1:1", "", 128, 256, 90 * time.Second, 0},
		{"https://127.0.0.1:1", "", 128, 256, 90 * time.Second, 5 * time.Second},
		{"https://127.0.0.1:1", `{"protocol":"http","keep_alive":{"max_idle_conns_per_host":16},"tls":{"handshake_timeout":"2s"}}`,
			16, 256, 90 * time.Second, 2 * time.Second},
		{"http://127.0.0.1:1", `{"protocol":"http","keep_alive":{"idle_timeout":"10s"}}`, 128, 256, 10 * time.Second, 0},
	} {
		l := &Legacy{BaseURL: tc.base}
		if tc.transport != "" {
			l.TransportRaw = json.RawMessage(tc.transport)
		}
		newTestLegacy(t, l)
		rt := l.rt
		if rt.MaxIdleConnsPerHost != tc.idlePerHost || rt.MaxIdleConns != tc.idle || rt.IdleConnTimeout != tc.idleTimeout ||
			rt.TLSHandshakeTimeout != tc.handshake || rt.DisableKeepAlives {
			t.Errorf("%s %s: idle %d/%d for %v, handshake %v, keep-alive off %v; want %d/%d for %v, handshake %v",
				tc.base, tc.transport, rt.MaxIdleConnsPerHost, rt.MaxIdleConns, rt.IdleConnTimeout, rt.TLSHandshakeTimeout,
				rt.DisableKeepAlives, tc.idlePerHost, tc.idle, tc.idleTimeout, tc.handshake)
		}
	}
}
