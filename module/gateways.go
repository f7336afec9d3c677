package billbridge

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/module/bill24"
	"github.com/billbridge/caddy-billbridge/module/qm"
)

// Bill24Verify confirms Bill24 webhooks with Transaction Verify before they
// are forwarded (protocols.md B.2, B.4).
type Bill24Verify struct {
	// BaseURL is Bill24's merchant API, e.g. https://merchantapi.bill24.io.
	BaseURL string `json:"base_url,omitempty"`
	// ClientID, Secret and MerchantToken authorize billbridge; use {env.*}.
	ClientID      string `json:"client_id,omitempty"`
	Secret        string `json:"secret,omitempty"`
	MerchantToken string `json:"merchant_token,omitempty"`
	// Timeout bounds each call to Bill24. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	verifier *bill24.Verifier
	poolKey  string
}

// QM holds Quantum Metal's API settings.
type QM struct {
	// BaseURL is QM's API, e.g. https://api.quantummetal.com.
	BaseURL string `json:"base_url,omitempty"`
	// Key is sent as the Key header; Secret signs every request. Use {env.*}.
	Key    string `json:"key,omitempty"`
	Secret string `json:"secret,omitempty"`
	// Timeout bounds each call to QM. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Rate is how many requests per second billbridge allows itself towards
	// QM (QM allows 10 per IP). Default: 8.
	Rate float64 `json:"rate,omitempty"`

	client      *qm.Client
	secretValue string
	poolKey     string
}

// gatewayClients shares gateway API clients across config reloads, so a
// cached Bill24 bearer token and QM's rate limiter survive them.
var gatewayClients = caddy.NewUsagePool()

type pooled struct{ v any }

func (pooled) Destruct() error { return nil }

// settingsKey hashes settings, secrets included, into a pool key; the key
// never holds a secret itself.
func settingsKey(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (v *Bill24Verify) provision() error {
	cfg := bill24.VerifyConfig{
		BaseURL:       resolve(v.BaseURL),
		ClientID:      resolve(v.ClientID),
		Secret:        resolve(v.Secret),
		MerchantToken: resolve(v.MerchantToken),
		Timeout:       time.Duration(v.Timeout),
	}
	if cfg.BaseURL == "" || cfg.ClientID == "" || cfg.Secret == "" || cfg.MerchantToken == "" {
		return errors.New("verify: base_url, client_id, secret and merchant_token are required (is an environment variable unset?)")
	}
	v.poolKey = settingsKey("bill24-verify", cfg.BaseURL, cfg.ClientID, cfg.Secret, cfg.MerchantToken, cfg.Timeout.String())
	p, _, err := gatewayClients.LoadOrNew(v.poolKey, func() (caddy.Destructor, error) {
		vf, err := bill24.NewVerifier(cfg)
		return pooled{vf}, err
	})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	v.verifier = p.(pooled).v.(*bill24.Verifier)
	return nil
}

func (q *QM) provision() error {
	cfg := qm.Config{
		BaseURL: resolve(q.BaseURL),
		Key:     resolve(q.Key),
		Secret:  resolve(q.Secret),
		Timeout: time.Duration(q.Timeout),
		Rate:    q.Rate,
	}
	if cfg.BaseURL == "" || cfg.Key == "" || cfg.Secret == "" {
		return errors.New("base_url, key and secret are required (is an environment variable unset?)")
	}
	q.poolKey = settingsKey("qm", cfg.BaseURL, cfg.Key, cfg.Secret, cfg.Timeout.String(), fmt.Sprint(cfg.Rate))
	p, _, err := gatewayClients.LoadOrNew(q.poolKey, func() (caddy.Destructor, error) {
		c, err := qm.New(cfg)
		return pooled{c}, err
	})
	if err != nil {
		return err
	}
	q.client = p.(pooled).v.(*qm.Client)
	q.secretValue = cfg.Secret
	return nil
}

func releaseClient(key string) {
	if key != "" {
		_, _ = gatewayClients.Delete(key)
	}
}
