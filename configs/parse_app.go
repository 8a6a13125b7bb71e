package configs

import (
	"fmt"
	"reflect"
)

// ParseApp decodes one app object given outside the config file (a
// database row turned into JSON) exactly as the file's apps are decoded:
// flat or `policy` form, missing `enabled` = true, the per-app defaults
// from c's global sections, the same validation. Errors name the key under
// path, as in `app[id=7].max_connections: must not be negative, got -1`;
// warnings name ignored keys.
func (c *Config) ParseApp(data []byte, path string) (App, []string, error) {
	raw, err := parseJSON(data)
	if err != nil {
		return App{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	var a App
	a.setDefaults()
	d := &decoder{}
	d.value(path, raw, reflect.ValueOf(&a).Elem())
	if err := d.err(); err != nil {
		return App{}, d.warnings, err
	}
	c.applyAppDefaults(&a)
	v := &checker{}
	v.credential(path+".id", a.ID)
	v.credential(path+".key", a.Key)
	if a.Secret == "" {
		v.add(path+".secret", "is required")
	}
	validateAppSettings(v, path, &a)
	if err := v.err(); err != nil {
		return App{}, d.warnings, err
	}
	return a, d.warnings, nil
}
