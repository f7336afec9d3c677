package billbridge

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// How the admin API and the billbridge-events command name an event.
//
// A record's store key is its flow's key (Profile.Key, with the handler's
// namespace in front if it has one) then ":" and the gateway's id:
// "bill24:webhook:348b4b16-…", "shop-a:bill24:webhook:348b4b16-…". Its
// address writes the flow's parts as path segments:
//
//	[<namespace>/]<gateway>/<flow>/<id>
//
// The first segment says whether a namespace comes first: it is a gateway
// (bill24, qm) or it is a namespace, and a handler may not take a gateway's
// name as its namespace, so the two cannot be confused. The id is the rest
// of the path; a gateway's id may hold slashes. In the admin API's paths
// an action (redeliver, discard) is a last segment of its own, so an id
// whose last part is "redeliver" or "discard" has its slashes escaped
// (%2F); the command escapes every id.

// eventRef names one event: the store key of its record is Flow + ":" + ID.
type eventRef struct {
	Flow string // the flow's store key: "bill24:webhook", "shop-a:bill24:webhook"
	ID   string // the gateway's id
}

// Key is the record's store key.
func (e eventRef) Key() string { return e.Flow + ":" + e.ID }

// String is the event's address, as the command takes it and the list
// shows it: bill24/webhook/<id>.
func (e eventRef) String() string { return flowPath(e.Flow) + "/" + e.ID }

// Path is the event's admin path, its id escaped as one segment.
func (e eventRef) Path() string {
	id := url.PathEscape(e.ID)
	if id == "." || id == ".." { // a clean-path redirect would eat them
		id = strings.ReplaceAll(id, ".", "%2E")
	}
	return eventsPath + "/" + flowPath(e.Flow) + "/" + id
}

// eventsPath is the admin API's root for events.
const eventsPath = "/billbridge/events"

// The actions on an event, each a POST to its path + "/" + action.
const (
	actionRedeliver = "redeliver"
	actionDiscard   = "discard"
)

// isGateway reports whether name is one of the gateways billbridge speaks
// to (AppFor's): the first segment of every flow's key.
func isGateway(name string) bool {
	return name == "bill24" || name == "qm"
}

// errEventAddress says how to write an event's address.
var errEventAddress = errors.New("want [<namespace>/]<gateway>/<flow>/<id>, e.g. bill24/webhook/348b4b16-… (gateways: bill24, qm)")

// flowKeyOf reads a flow from the first segments of segs and returns its
// store key and how many segments it took (2, or 3 with a namespace).
func flowKeyOf(segs []string) (string, int, error) {
	n := 2
	if len(segs) > 0 && !isGateway(segs[0]) {
		n = 3 // a namespace first
	}
	if len(segs) < n {
		return "", 0, errEventAddress
	}
	if !isGateway(segs[n-2]) {
		return "", 0, fmt.Errorf("%q is not a gateway: %w", segs[n-2], errEventAddress)
	}
	for _, s := range segs[:n] {
		if s == "" || !validNamespace(s) {
			return "", 0, fmt.Errorf("bad flow segment %q: %w", s, errEventAddress)
		}
	}
	return strings.Join(segs[:n], ":"), n, nil
}

// parseFlow reads the list's flow filter, written as in an event's
// address: bill24/webhook or shop-a/bill24/webhook.
func parseFlow(s string) (string, error) {
	segs := strings.Split(s, "/")
	key, n, err := flowKeyOf(segs)
	if err != nil || n != len(segs) {
		return "", fmt.Errorf("flow %q: want [<namespace>/]<gateway>/<flow>, e.g. bill24/webhook", s)
	}
	return key, nil
}

// parseEventArg reads an event's address as an operator types it: the id
// is the rest, slashes and all.
func parseEventArg(s string) (eventRef, error) {
	segs := strings.Split(s, "/")
	flow, n, err := flowKeyOf(segs)
	if err != nil {
		return eventRef{}, err
	}
	id := strings.Join(segs[n:], "/")
	if id == "" {
		return eventRef{}, errEventAddress
	}
	return eventRef{Flow: flow, ID: id}, nil
}

// parseEventPath reads an admin path below /billbridge/events/, escaped as
// sent: an event's address and, if its last segment is one, an action.
func parseEventPath(escaped string) (eventRef, string, error) {
	raw := strings.Split(escaped, "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		s, err := url.PathUnescape(r)
		if err != nil {
			return eventRef{}, "", fmt.Errorf("bad escape in %q: %w", r, err)
		}
		segs[i] = s
	}
	flow, n, err := flowKeyOf(segs)
	if err != nil {
		return eventRef{}, "", err
	}
	rest, action := segs[n:], ""
	if last := raw[len(raw)-1]; len(rest) > 1 && (last == actionRedeliver || last == actionDiscard) {
		rest, action = rest[:len(rest)-1], last
	}
	id := strings.Join(rest, "/")
	if id == "" {
		return eventRef{}, "", errEventAddress
	}
	return eventRef{Flow: flow, ID: id}, action, nil
}

// refOf names a listed record by its key and flow; ok is false for a
// record whose flow does not prefix its key (none should be listed).
func refOf(key, flow string) (eventRef, bool) {
	id, ok := strings.CutPrefix(key, flow+":")
	if !ok || flow == "" || id == "" {
		return eventRef{}, false
	}
	return eventRef{Flow: flow, ID: id}, true
}

// flowPath writes a flow's store key as path segments.
func flowPath(flow string) string { return strings.ReplaceAll(flow, ":", "/") }
