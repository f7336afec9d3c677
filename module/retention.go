package billbridge

import "time"

// retentionOf is how long the store keeps a record of flow (its store key,
// e.g. "bill24:webhook") after an operator redelivers or discards it: the
// retention of the flow that delivers it in the running config, or the
// default for a flow this config does not hold.
func (a *App) retentionOf(flow string) time.Duration {
	if a.custody != nil {
		if h := a.custody.flow(flow); h != nil {
			return time.Duration(h.profile.Payment.Retention)
		}
	}
	return defaultRetention
}
