package billbridge

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// foundHandler is a billbridge handler of a config with the host and path
// matchers of the routes around it.
type foundHandler struct {
	flow  string
	hosts []string
	paths []string
	raw   json.RawMessage
}

func (f foundHandler) where() string {
	return fmt.Sprintf("%s at %s%s", f.flow, strings.Join(f.hosts, ","), strings.Join(f.paths, ","))
}

// allHandlers lists, in config order, the billbridge handlers of the http
// app of a JSON config.
func allHandlers(httpApp json.RawMessage) []foundHandler {
	var v any
	if json.Unmarshal(httpApp, &v) != nil {
		return nil
	}
	var out []foundHandler
	var walk func(v any, hosts, paths []string)
	walk = func(v any, hosts, paths []string) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "billbridge" {
				if f, ok := v["flow"].(map[string]any); ok {
					name, _ := f["name"].(string)
					h := map[string]any{}
					for k, e := range v {
						if k != "handler" { // the module's name, not one of its fields
							h[k] = e
						}
					}
					b, _ := json.Marshal(h)
					out = append(out, foundHandler{flow: name, hosts: hosts, paths: paths, raw: b})
				}
				return
			}
			if sets, ok := v["match"].([]any); ok {
				hosts, paths = slices.Clone(hosts), slices.Clone(paths)
				for _, set := range sets {
					m, _ := set.(map[string]any)
					hosts = appendStrings(hosts, m["host"])
					paths = appendStrings(paths, m["path"])
				}
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys) // "servers" holds a map: keep an order
			for _, k := range keys {
				walk(v[k], hosts, paths)
			}
		case []any:
			for _, e := range v {
				walk(e, hosts, paths)
			}
		}
	}
	walk(v, nil, nil)
	return out
}

func appendStrings(dst []string, v any) []string {
	arr, _ := v.([]any)
	for _, e := range arr {
		if s, ok := e.(string); ok {
			dst = append(dst, s)
		}
	}
	return dst
}

// pick finds the handler a case names.
func (h caseHandler) pick(all []foundHandler) (foundHandler, error) {
	var match []foundHandler
	for _, f := range all {
		if h.Flow != "" && f.flow != h.Flow {
			continue
		}
		if h.Path != "" && !slices.Contains(f.paths, h.Path) {
			continue
		}
		if h.Site != "" && !slices.Contains(f.hosts, h.Site) {
			continue
		}
		match = append(match, f)
	}
	want := fmt.Sprintf("flow %q site %q path %q", h.Flow, h.Site, h.Path)
	if len(match) == 0 {
		var have []string
		for _, f := range all {
			have = append(have, f.where())
		}
		return foundHandler{}, fmt.Errorf("no billbridge handler for %s; the config has: %s", want, strings.Join(have, "; "))
	}
	n := max(h.Index, 1)
	if h.Index == 0 && len(match) > 1 {
		return foundHandler{}, fmt.Errorf("%d handlers for %s: name the site or path, or an index", len(match), want)
	}
	if n > len(match) {
		return foundHandler{}, fmt.Errorf("index %d: %d handler(s) for %s", n, len(match), want)
	}
	return match[n-1], nil
}
