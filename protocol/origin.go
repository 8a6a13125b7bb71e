package protocol

import "strings"

// OriginMatches reports whether an Origin header matches one of allowed:
// "*", an exact origin, or a "*.example.com" pattern matched on whole host
// labels (a.example.com matches, example.com and badexample.com do not). A
// pattern with a scheme requires that scheme too. Ports are part of the
// host: origins that differ by port differ.
func OriginMatches(allowed []string, origin string) bool {
	scheme, host := splitOrigin(origin)
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(a, origin) {
			return true
		}
		ps, ph := splitOrigin(a)
		if ps != "" && ps != scheme {
			continue
		}
		if ph == host {
			return true
		}
		if suffix, ok := strings.CutPrefix(ph, "*"); ok && strings.HasPrefix(suffix, ".") &&
			len(host) > len(suffix) && strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// splitOrigin splits "https://a.example.com:443" into lower-cased scheme
// and host.
func splitOrigin(o string) (scheme, host string) {
	if i := strings.Index(o, "://"); i >= 0 {
		return strings.ToLower(o[:i]), strings.ToLower(o[i+3:])
	}
	return "", strings.ToLower(o)
}
