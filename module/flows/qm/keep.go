package qm

import (
	"fmt"

	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/qm"
)

// Keep implements billbridge.Keeper: a held callback keeps the bill as
// QM's Requery answered it (or, with requery off, as the callback said),
// so its delivery neither asks QM again nor trusts the callback's body.
func (f *Callback) Keep(ev *billbridge.Event, _ []byte) ([]byte, error) {
	b := ev.Payload.(wire.Bill)
	kept, err := mappings.EncodeJSONValue(b.Raw)
	if err != nil {
		return nil, fmt.Errorf("qm bill: %w", err)
	}
	return kept, nil
}

// Restore implements billbridge.Keeper.
func (f *Callback) Restore(kept []byte) (*billbridge.Event, error) {
	b, err := wire.DecodeCallback(kept, f.app.Exponents())
	if err != nil {
		return nil, fmt.Errorf("kept bill: %w", err)
	}
	return f.event(b), nil
}

var _ billbridge.Keeper = (*Callback)(nil)
