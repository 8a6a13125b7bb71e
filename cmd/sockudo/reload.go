package main

import (
	"bufio"
	"bytes"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
)

// reloader is what SIGHUP reloads: the config file's apps (memory driver)
// and the TLS certificate.
type reloader struct {
	ready  atomic.Bool // set once the node started; earlier signals are ignored
	mu     sync.Mutex  // one reload at a time
	reread func(warnings *bytes.Buffer) (configs.Config, error)
	static appReplacer // nil when apps do not come from the file
	tls    func() error
}

// appReplacer is an app store whose whole list can be swapped at once
// (appstore.Static), reporting what the engine must apply.
type appReplacer interface {
	Replace(apps []*engine.App) (changed []*engine.App, removed []string, err error)
}

// replacer is store's appReplacer when the file's apps are what it serves
// (appstore.Static), else nil: SIGHUP then leaves apps to the store.
func replacer(store engine.AppStore) appReplacer {
	r, _ := store.(appReplacer)
	return r
}

// liveKeys are global settings that only feed the per-app defaults of the
// file's apps, so a reload applies them through the apps.
var liveKeys = []string{
	"presence.max_members_per_channel", "presence.max_member_size_in_kb",
	"channel_limits.max_name_length", "event_limits.max_channels_at_once",
	"event_limits.max_name_length", "event_limits.max_payload_in_kb",
	"event_limits.max_batch_size",
}

// reload is the SIGHUP handler: apps first, then the certificate.
func (n *node) reload() {
	if !n.reloader.ready.Load() {
		n.log.Warn("SIGHUP during start-up: ignored; send it again once the server listens")
		return
	}
	n.reloader.mu.Lock()
	defer n.reloader.mu.Unlock()
	n.reloadApps()
	n.reloadTLS()
}

func (n *node) reloadTLS() {
	if n.reloader.tls == nil {
		return
	}
	if err := n.reloader.tls(); err != nil {
		n.log.Error("SIGHUP: certificate reload failed, keeping the old one", "err", err)
		return
	}
	n.log.Info("SIGHUP: TLS certificate reloaded")
}

// reloadApps re-reads the config file and applies its apps: added apps
// are served, changed ones apply to open connections (engine.AppChanged),
// removed ones are closed with 4001, unchanged ones are not touched. A
// file that does not load is refused whole and the running apps stay.
func (n *node) reloadApps() {
	r := &n.reloader
	if r.reread == nil {
		return
	}
	var warnings bytes.Buffer
	next, err := r.reread(&warnings)
	for sc := bufio.NewScanner(&warnings); sc.Scan(); {
		n.log.Warn("SIGHUP: " + strings.TrimPrefix(sc.Text(), "sockudo: "))
	}
	if err != nil {
		n.log.Error("SIGHUP: config file refused; the running apps stay as they were", "err", err)
		return
	}
	for _, key := range restartKeys(n.cfg, next) {
		n.log.Warn("SIGHUP: setting changed in the config file; it applies only after a restart", "key", key)
	}
	if r.static == nil {
		n.log.Info("SIGHUP: apps not reloaded from the file: they follow the app store", "driver", n.cfg.AppManager.Driver)
		return
	}
	apps := engineApps(next)
	if n.hooks == nil && next.Queue.Driver != "none" && slices.ContainsFunc(apps, func(a *engine.App) bool { return len(a.Webhooks) > 0 }) {
		n.log.Warn("SIGHUP: webhooks were added but no webhook sender runs (queue.driver redis and none at start); they apply only after a restart")
	}
	changed, removed, err := r.static.Replace(apps)
	if err != nil {
		n.log.Error("SIGHUP: apps refused; the running apps stay as they were", "err", err)
		return
	}
	for _, a := range changed {
		if n.metrics != nil {
			n.metrics.AddApp(a.ID)
		}
		n.eng.AppChanged(a)
	}
	for _, id := range removed {
		n.eng.AppRemoved(id)
	}
	n.cfg.AppManager.Array.Apps = next.Apps()
	n.log.Info("SIGHUP: apps reloaded", "apps", len(apps), "added_or_changed", len(changed), "removed", len(removed))
}

// restartKeys names, as dotted config keys, the settings other than apps
// that differ between the running configuration and the file: they cannot
// change live. instance.process_id is left out: one is drawn at random at
// every read when the file sets none.
func restartKeys(old, next configs.Config) []string {
	old.AppManager.Array.Apps, next.AppManager.Array.Apps = nil, nil
	next.Instance.ProcessID = old.Instance.ProcessID
	var keys []string
	diffKeys("", reflect.ValueOf(old), reflect.ValueOf(next), &keys)
	return slices.DeleteFunc(keys, func(k string) bool { return slices.Contains(liveKeys, k) })
}

// diffKeys appends the paths of the leaves (non-struct values) of a and b
// that differ, named by their JSON keys.
func diffKeys(path string, a, b reflect.Value, out *[]string) {
	if a.Kind() != reflect.Struct {
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, path)
		}
		return
	}
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			name = f.Name
		}
		if path != "" {
			name = path + "." + name
		}
		diffKeys(name, a.Field(i), b.Field(i), out)
	}
}
