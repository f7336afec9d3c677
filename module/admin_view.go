package billbridge

import (
	"encoding/json"
	"time"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// eventView is what the admin API shows of a record: never the owner
// token, and never the payload (it carries customers' names and codes),
// only its size.
type eventView struct {
	Key string `json:"key"`
	// Event is the record's address, as billbridge-events takes it.
	Event string `json:"event"`
	// Flow is the flow's store key, e.g. bill24:webhook.
	Flow        string    `json:"flow"`
	State       string    `json:"state"`
	Custody     bool      `json:"custody"`
	Fingerprint string    `json:"fingerprint"`
	Ambiguous   bool      `json:"ambiguous"`
	Attempts    int       `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
	// NextAttempt is when a queued record is due.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Reason says why a record is dead or discarded.
	Reason string `json:"reason,omitempty"`
	// History holds the latest attempts, oldest first.
	History      []attemptView `json:"history"`
	PayloadBytes int           `json:"payload_bytes"`
	Response     *responseView `json:"response,omitempty"`
}

// attemptView is one delivery attempt.
type attemptView struct {
	At           time.Time `json:"at"`
	Outcome      string    `json:"outcome"`
	LegacyStatus int       `json:"legacy_status,omitempty"`
	Error        string    `json:"error,omitempty"`
}

// responseView is the answer an event replays to the gateway's
// duplicates: a done one's, and one in custody's from when it was held.
type responseView struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// viewOf shows the record of ref.
func viewOf(ref eventRef, rec store.Record) eventView {
	v := eventView{Key: ref.Key(), Event: ref.String(), Flow: ref.Flow, State: string(rec.State), Custody: rec.Custody,
		Fingerprint: rec.Fingerprint, Ambiguous: rec.Ambiguous, Attempts: rec.Attempts,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, Reason: rec.Reason,
		History: make([]attemptView, 0, len(rec.History)), PayloadBytes: len(rec.Payload)}
	switch rec.State {
	case store.StateProcessing:
		v.LeaseUntil = rec.LeaseUntil
	case store.StateQueued:
		v.NextAttempt = rec.NextAttempt
	}
	// A done record, and every record in custody (the gateway was answered
	// when it was held), replays its response to the gateway's duplicates.
	if rec.State == store.StateDone || rec.Custody && rec.Response.Status != 0 {
		v.Response = &responseView{Status: rec.Response.Status, Body: rec.Response.Body}
		if !json.Valid(rec.Response.Body) {
			v.Response.Body, _ = json.Marshal(string(rec.Response.Body))
		}
	}
	for _, a := range rec.History {
		v.History = append(v.History, attemptView{At: a.At, Outcome: a.Outcome, LegacyStatus: a.Legacy, Error: a.Error})
	}
	return v
}
