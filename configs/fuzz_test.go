package configs

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadJSON feeds arbitrary bytes to the loader: it must never panic,
// and whatever it accepts must validate.
func FuzzLoadJSON(f *testing.F) {
	files, _ := filepath.Glob("*.json")
	more, _ := filepath.Glob("testdata/*.json")
	for _, name := range append(files, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		withApp(app1), `{}`, `[]`, `null`, `{"port":"${PORT:-6001}"}`, `{"port":${PORT}}`,
		withApp(`{"id":1e400,"key":"k","secret":"s","max_connections":"-9223372036854775809"}`),
		withApp(`{"id":"1","key":"k","secret":"s","policy":{"limits":null,"webhooks":[null]}}`),
		withApp(`{"id":"1","key":"k","secret":"s","webhooks":[{"url":"http://h","headers":null,"retry":{"enabled":"true"}}]}`),
		`{"adapter":{"cluster_health":{"enabled":false},"redis":{"redis_pub_options":{"url":7}}}}`,
	} {
		f.Add([]byte(s))
	}
	getenv := envOf("PORT", "6001", "HOST", "127.0.0.1")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := parse(append([]byte{}, data...), getenv)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("parse accepted a config that does not validate: %v", err)
		}
		cfg.ApplyDefaults()
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ApplyDefaults broke a valid config: %v", err)
		}
	})
}
