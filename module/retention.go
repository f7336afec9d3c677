package billbridge

import "time"

// retentionOf is how long the store keeps a record of flow (its store key,
// e.g. "bill24:webhook") after an operator redelivers or discards it. For
// now every flow's is the default; the flows' own retention settings are
// to be wired in here.
func (a *App) retentionOf(flow string) time.Duration {
	return defaultRetention
}
