package bill24

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

// kept is what a held webhook keeps: the webhook as Bill24 sent it and,
// when it was verified, Bill24's record of it. Restore reconciles the two
// again, exactly as Verify did, so the delivery sees the same payment
// without asking Bill24 a second time.
type kept struct {
	Webhook  json.RawMessage `json:"webhook"`
	Verified json.RawMessage `json:"verified,omitempty"`
}

// Keep implements billbridge.Keeper.
func (f *Webhook) Keep(ev *billbridge.Event, body []byte) ([]byte, error) {
	k := kept{Webhook: body}
	if t, ok := ev.State.(wire.Transaction); ok {
		b, err := mappings.EncodeJSONValue(t.Raw)
		if err != nil {
			return nil, fmt.Errorf("bill24 record: %w", err)
		}
		k.Verified = b
	}
	return json.Marshal(k)
}

// Restore implements billbridge.Keeper.
func (f *Webhook) Restore(b []byte) (*billbridge.Event, error) {
	var k kept
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("kept webhook: %w", err)
	}
	if len(k.Webhook) == 0 {
		return nil, errors.New("kept webhook: no webhook")
	}
	ev, err := f.Decode(nil, k.Webhook)
	if err != nil {
		return nil, err
	}
	if len(k.Verified) == 0 {
		return ev, nil
	}
	t, err := wire.DecodeTransaction(k.Verified)
	if err != nil {
		return nil, err
	}
	verified, what := reconcile(ev.Payload.(wire.Webhook), t)
	if what != "" {
		return nil, fmt.Errorf("kept webhook no longer agrees with Bill24's record: %s", what)
	}
	verifiedEvent(ev, verified, t)
	return ev, nil
}

var _ billbridge.Keeper = (*Webhook)(nil)
