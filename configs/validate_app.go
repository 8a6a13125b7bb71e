package configs

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

func (c *Config) validateApps(v *checker) {
	ids, keys := map[string]int{}, map[string]int{}
	for i, a := range c.Apps() {
		p := fmt.Sprintf("app_manager.array.apps[%d]", i)
		v.credential(p+".id", a.ID)
		v.credential(p+".key", a.Key)
		if a.Secret == "" {
			v.add(p+".secret", "is required")
		}
		if j, dup := ids[a.ID]; dup && a.ID != "" {
			v.add(p+".id", "duplicates apps[%d].id %q", j, a.ID)
		}
		if j, dup := keys[a.Key]; dup && a.Key != "" {
			v.add(p+".key", "duplicates apps[%d].key %q", j, a.Key)
		}
		ids[a.ID], keys[a.Key] = i, i
		validateAppSettings(v, p, &a)
	}
}

// validateAppSettings checks what one app can get wrong on its own (not
// its credentials, nor duplicates among apps).
func validateAppSettings(v *checker, p string, a *App) {
	validateAppLimits(v, p, a)
	for j, o := range a.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			v.add(fmt.Sprintf("%s.allowed_origins[%d]", p, j), "%v", err)
		}
	}
	for j := range a.Webhooks {
		validateWebhook(v, fmt.Sprintf("%s.webhooks[%d]", p, j), &a.Webhooks[j])
	}
	validateDeltaChannels(v, p, a)
}

func validateAppLimits(v *checker, p string, a *App) {
	for _, l := range []struct {
		key string
		n   int
	}{
		{"max_connections", a.MaxConnections},
		{"max_client_events_per_second", a.MaxClientEventsPerSecond},
		{"max_backend_events_per_second", a.MaxBackendEventsPerSecond},
		{"max_read_requests_per_second", a.MaxReadRequestsPerSecond},
		{"max_presence_members_per_channel", a.MaxPresenceMembersPerChannel},
		{"max_presence_member_size_in_kb", a.MaxPresenceMemberSizeInKB},
		{"max_channel_name_length", a.MaxChannelNameLength},
		{"max_event_channels_at_once", a.MaxEventChannelsAtOnce},
		{"max_event_name_length", a.MaxEventNameLength},
		{"max_event_payload_in_kb", a.MaxEventPayloadInKB},
		{"max_event_batch_size", a.MaxEventBatchSize},
		{"max_subscriptions_per_connection", a.MaxSubscriptionsPerConnection},
		{"decay_seconds", int(a.DecaySeconds)},
	} {
		v.atLeast(p+"."+l.key, l.n, 0)
	}
}

func validateWebhook(v *checker, p string, w *Webhook) {
	if w.URL == "" {
		v.add(p+".url", "is required (Lambda webhooks are not supported)")
	} else if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(p+".url", "must be an absolute http or https URL, got %q", w.URL)
	}
	if w.Filter.ChannelPattern != "" {
		if _, err := regexp.Compile(w.Filter.ChannelPattern); err != nil {
			v.add(p+".filter.channel_pattern", "is not a valid regular expression: %v", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(w.Headers)) {
		if !validHeaderName(name) {
			v.add(p+".headers", "%q is not a valid header name", name)
		}
		if strings.ContainsAny(w.Headers[name], "\r\n\x00") {
			v.add(p+".headers."+name, "must not contain line breaks or NUL")
		}
	}
	v.atLeast(p+".request_timeout_ms", int(w.RequestTimeoutMs), 0)
	r := w.Retry
	v.atLeast(p+".retry.max_attempts", r.MaxAttempts, 0)
	v.atLeast(p+".retry.max_elapsed_time_ms", int(r.MaxElapsedTimeMs), 0)
	v.atLeast(p+".retry.initial_backoff_ms", int(r.InitialBackoffMs), 0)
	v.atLeast(p+".retry.max_backoff_ms", int(r.MaxBackoffMs), 0)
}

// webhookWarnings names event types no webhook will ever receive; Sockudo
// accepts any string (its V2 types among them), so this is not an error.
func (c *Config) webhookWarnings() []string {
	var out []string
	known := WebhookEventTypes()
	for i, a := range c.Apps() {
		for j, w := range a.Webhooks {
			for k, t := range w.EventTypes {
				if !slices.Contains(known, t) {
					out = append(out, fmt.Sprintf("config: app_manager.array.apps[%d].webhooks[%d].event_types[%d]: unknown event type %q is never sent (known: %s)",
						i, j, k, t, strings.Join(known, ", ")))
				}
			}
		}
	}
	return out
}

// checkOrigin validates an allowed-origin pattern as Sockudo does: `*`,
// an exact origin (https://app.example.com or app.example.com), or one
// wildcard for whole leading host labels (*.example.com,
// https://*.example.com).
func checkOrigin(o string) error {
	switch {
	case o == "":
		return errors.New("must not be empty")
	case o == "*" || strings.EqualFold(o, "any"):
		return nil
	case strings.ContainsAny(o, " \t\r\n"):
		return fmt.Errorf("must not contain spaces, got %q", o)
	}
	host := o
	if scheme, rest, ok := strings.Cut(o, "://"); ok {
		if scheme == "" || rest == "" {
			return fmt.Errorf("%q needs a scheme and a host", o)
		}
		host = rest
	}
	if !strings.Contains(host, "*") {
		return nil
	}
	domain, ok := strings.CutPrefix(host, "*.")
	if !ok || strings.Contains(domain, "*") || domain == "" ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return fmt.Errorf("%q: a wildcard must be one leading `*.` before a domain, as in *.example.com", o)
	}
	return nil
}

func validMetricPrefix(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b == '_' || b == ':' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || i > 0 && '0' <= b && b <= '9') {
			return false
		}
	}
	return true
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0) {
			return false
		}
	}
	return true
}

// checker collects validation errors, each naming its key; past
// maxDecodeErrors it only counts them.
type checker struct {
	errs    []error
	dropped int
}

func (v *checker) add(key, format string, args ...any) {
	if len(v.errs) >= maxDecodeErrors {
		v.dropped++
		return
	}
	v.errs = append(v.errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
}

func (v *checker) err() error {
	if v.dropped > 0 {
		v.errs = append(v.errs, fmt.Errorf("config: %d more errors not shown", v.dropped))
	}
	return errors.Join(v.errs...)
}

func (v *checker) atLeast(key string, n, min int) {
	if n >= min {
		return
	}
	if min == 0 {
		v.add(key, "must not be negative, got %d", n)
		return
	}
	v.add(key, "must be at least %d, got %d", min, n)
}

func (v *checker) between(key string, n, min, max int) {
	if n < min || n > max {
		v.add(key, "must be %d..%d, got %d", min, max, n)
	}
}

func (v *checker) port(key string, n int) { v.between(key, n, 1, 65535) }

func (v *checker) nonEmpty(key, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(key, "is required")
	}
}

func (v *checker) oneOf(key, s string, allowed ...string) {
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(s), a) {
			return
		}
	}
	v.add(key, "must be one of %s, got %q", strings.Join(allowed, ", "), s)
}

func (v *checker) rateLimit(key string, l RateLimit) {
	v.atLeast(key+".max_requests", l.MaxRequests, 1)
	v.atLeast(key+".window_seconds", int(l.WindowSeconds), 1)
	v.atLeast(key+".trust_hops", l.TrustHops, 0)
}

// credential checks an app id or key: required, and usable in a URL path
// (/app/{key}, /apps/{id}).
func (v *checker) credential(key, s string) {
	switch {
	case strings.TrimSpace(s) == "":
		v.add(key, "is required")
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("/?#%", r) }):
		v.add(key, "must not contain spaces, control characters or any of / ? # %%, got %q", s)
	}
}
