package billbridge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// legacyTransportDefaults are billbridge's defaults for the http
// transport, applied to each setting the config leaves out (with or without
// a transport block): the settings billbridge used before the transport was
// configurable. 5s to connect, TCP keep-alive probes every 30s, 256 idle
// connections (128 per host) kept 90s, a 5s TLS handshake for an https base
// URL. reverse_proxy's own defaults (3s, 32 per host, 2m) are for a proxy
// spreading load; these for one merchant API. No response_header_timeout:
// the legacy timeout is the request context's deadline, which already
// bounds the whole call.
var legacyTransportDefaults = map[string]string{
	"dial_timeout": `"5s"`,
}

var legacyKeepAliveDefaults = map[string]string{
	"probe_interval":          `"30s"`,
	"max_idle_conns":          `256`,
	"max_idle_conns_per_host": `128`,
	"idle_timeout":            `"90s"`,
}

// withTransportDefaults fills billbridge's defaults into a transport's
// JSON where it says nothing. The result is marshalled from a map, so the
// same settings always give the same bytes (the pool key).
func withTransportDefaults(raw json.RawMessage, https bool) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	fill := func(obj map[string]json.RawMessage, defaults map[string]string) {
		for k, v := range defaults {
			if _, set := obj[k]; !set {
				obj[k] = json.RawMessage(v)
			}
		}
	}
	sub := func(key string, defaults map[string]string) error {
		var obj map[string]json.RawMessage
		if v, ok := m[key]; ok {
			if err := json.Unmarshal(v, &obj); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
		if obj == nil {
			obj = map[string]json.RawMessage{}
		}
		fill(obj, defaults)
		b, err := json.Marshal(obj)
		m[key] = b
		return err
	}
	fill(m, legacyTransportDefaults)
	if err := sub("keep_alive", legacyKeepAliveDefaults); err != nil {
		return nil, err
	}
	if https {
		if err := sub("tls", map[string]string{"handshake_timeout": `"5s"`}); err != nil {
			return nil, err
		}
	}
	return json.Marshal(m)
}

// legacyTransports shares the legacy connection pool (and so its warm
// connections) across config reloads, keyed by the transport's JSON and
// the bytes of the files it reads (see transportKey).
var legacyTransports = caddy.NewUsagePool()

// pooledTransport is a legacyTransports value. The pool owns the
// *http.Transport, not the config that first built it: the HTTPTransport
// module's own Cleanup would close the idle connections of the pool that
// the next config is using.
type pooledTransport struct{ rt *http.Transport }

func (p pooledTransport) Destruct() error {
	p.rt.CloseIdleConnections()
	return nil
}

// unsharedTransports numbers transports that must not be shared (their
// inputs are not all in the JSON or in files billbridge can read).
var unsharedTransports atomic.Uint64

// provisionTransport loads the legacy transport: Caddy's reverse_proxy
// `http` transport module, configured like reverse_proxy's. Call it after
// provision, which checks the base URL it depends on.
func (l *Legacy) provisionTransport(ctx caddy.Context) error {
	raw := l.TransportRaw
	if raw == nil {
		raw = json.RawMessage(`{"protocol":"http"}`)
	}
	// Refuse another protocol before loading it: a fastcgi or a plugin's
	// transport cannot reach a legacy HTTP API, and loading one may
	// already have effects (sockets, files).
	var head transportHead
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	if head.Protocol != "http" {
		return fmt.Errorf("transport %q: the legacy API is reached with the http transport only", head.Protocol)
	}
	raw, err := withTransportDefaults(raw, l.base.Scheme == "https")
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	l.TransportRaw = raw // loaded from the field, as Caddy's docs and tools expect; LoadModule clears it
	mod, err := ctx.LoadModule(l, "TransportRaw")
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	ht, ok := mod.(*reverseproxy.HTTPTransport)
	if !ok || ht.Transport == nil {
		return fmt.Errorf("transport: module %T is not the http transport", mod)
	}
	if err := l.checkTransport(ht); err != nil {
		ht.Transport.CloseIdleConnections()
		return fmt.Errorf("transport: %w", err)
	}
	rt := ht.Transport
	ht.Transport = nil // ours now: the module's Cleanup must not close the shared pool's connections
	if len(head.NetworkProxy) == 0 && head.ForwardProxyURL == "" {
		// reverse_proxy's transport falls back to HTTP_PROXY and friends;
		// the legacy API is the merchant's own, so a proxy is used only
		// when the config names one (network_proxy, forward_proxy_url).
		// (Read from the JSON: loading clears the module's raw fields.)
		rt.Proxy = nil
	}
	// A TLS server name or a proxy URL with placeholders is resolved per
	// request from a replacer in the request's context, as reverse_proxy
	// provides; without one the TLS dialer would panic.
	l.replacer = ht.TLS != nil && strings.Contains(ht.TLS.ServerName, "{") ||
		strings.Contains(head.ForwardProxyURL, "{") || head.proxyURLHasPlaceholder()

	l.poolKey = transportKey(raw, head)
	val, _, err := legacyTransports.LoadOrNew(l.poolKey, func() (caddy.Destructor, error) {
		return pooledTransport{rt}, nil
	})
	if err != nil {
		l.poolKey = ""
		return err
	}
	if shared := val.(pooledTransport).rt; shared != rt {
		rt.CloseIdleConnections() // never used: it has none, but say so
		rt = shared
	}
	l.rt = rt
	return nil
}

// checkTransport refuses the http transport's settings that cannot work
// when billbridge calls its *http.Transport directly (outside
// reverse_proxy, which supplies what they need) or that contradict the
// base URL.
func (l *Legacy) checkTransport(ht *reverseproxy.HTTPTransport) error {
	if slices.Contains(ht.Versions, "3") {
		return errors.New("HTTP/3 (versions 3) is not supported for the legacy API; use 1.1 and 2")
	}
	if ht.ProxyProtocol != "" {
		return errors.New("proxy_protocol is not supported for the legacy API: there is no client connection to describe")
	}
	if ht.TLS != nil && l.base.Scheme != "https" {
		return fmt.Errorf("the transport has TLS settings but the base URL %q is http://; use https://", redactURL(l.base))
	}
	return nil
}

// transportHead is what billbridge reads of the transport's JSON itself:
// the module clears its raw fields (network_proxy, tls.ca) once loaded.
type transportHead struct {
	Protocol        string          `json:"protocol"`
	NetworkProxy    json.RawMessage `json:"network_proxy"`
	ForwardProxyURL string          `json:"forward_proxy_url"`
	TLS             *struct {
		CA                       json.RawMessage `json:"ca"`
		RootCAPEMFiles           []string        `json:"root_ca_pem_files"`
		ClientCertificateFile    string          `json:"client_certificate_file"`
		ClientCertificateKeyFile string          `json:"client_certificate_key_file"`
	} `json:"tls"`
}

func (h transportHead) proxyURLHasPlaceholder() bool {
	var p struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(h.NetworkProxy, &p)
	return strings.Contains(p.URL, "{")
}

// transportKey names a transport in legacyTransports: the same JSON reading
// the same file contents builds the same connections, so a reload shares
// the warm pool; a rotated CA or client certificate (same path, new bytes)
// or a CA pool whose contents billbridge cannot see (fetched, stored) gets
// a pool of its own, so a reload always picks up new certificates.
func transportKey(raw json.RawMessage, head transportHead) string {
	h := sha256.New() // a hash.Hash never returns a write error
	h.Write(raw)
	if t := head.TLS; t != nil {
		files := append(slices.Clone(t.RootCAPEMFiles), t.ClientCertificateFile, t.ClientCertificateKeyFile)
		if len(t.CA) > 0 {
			var ca struct {
				Provider string   `json:"provider"`
				PEMFiles []string `json:"pem_files"`
			}
			_ = json.Unmarshal(t.CA, &ca)
			switch ca.Provider {
			case "inline", "system": // all in the JSON
			case "file":
				files = append(files, ca.PEMFiles...)
			default:
				files = nil
				_, _ = fmt.Fprintf(h, "\x00unshared %d", unsharedTransports.Add(1))
			}
		}
		for _, f := range files {
			if f == "" {
				continue
			}
			b, err := os.ReadFile(f) //nolint:gosec // G304: a certificate file the operator's config names
			if err != nil {
				_, _ = fmt.Fprintf(h, "\x00unshared %d", unsharedTransports.Add(1))
				break
			}
			sum := sha256.Sum256(b)
			h.Write([]byte{0})
			h.Write(sum[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
