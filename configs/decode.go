package configs

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-json"
)

// The decoder walks raw JSON (maps, slices, json.Number…) against the
// Config's struct tags instead of letting a JSON library fill the structs,
// because start-up errors must name the exact dotted key
// (app_manager.array.apps[0].max_connections), unknown keys must become
// warnings, and Sockudo's leniency (numbers and booleans given as strings)
// must hold. It is not on any hot path.

// maxDecodeErrors bounds the errors reported for one file.
const maxDecodeErrors = 20

// unusedKeyser is implemented by schema structs that accept Sockudo keys
// this server ignores; those keys produce no warning.
type unusedKeyser interface{ unusedKeys() []string }

// extraDecoder is implemented by schema structs that read keys which are
// not fields (App's `policy`). It runs after the struct's fields and
// reports whether it consumed the key.
type extraDecoder interface {
	decodeExtra(d *decoder, path, key string, raw any) bool
}

// defaulter is implemented by schema structs whose array elements start
// from non-zero values (App: enabled = true).
type defaulter interface{ setDefaults() }

type decoder struct {
	warnings []string
	errs     []error
	dropped  int
}

func (d *decoder) err() error {
	if d.dropped > 0 {
		d.errs = append(d.errs, fmt.Errorf("config: %d more errors not shown", d.dropped))
	}
	return errors.Join(d.errs...)
}

func (d *decoder) fail(path, format string, args ...any) {
	if len(d.errs) >= maxDecodeErrors {
		d.dropped++
		return
	}
	d.errs = append(d.errs, fmt.Errorf("config: %s: %s", path, fmt.Sprintf(format, args...)))
}

func (d *decoder) typeError(path, want string, raw any) {
	d.fail(path, "must be %s, got %s", want, describe(raw))
}

func (d *decoder) unknown(path string) {
	d.warnings = append(d.warnings, fmt.Sprintf("config: unknown key %s (ignored)", path))
}

// value decodes raw into v. A JSON null keeps v as it is (its default).
func (d *decoder) value(path string, raw any, v reflect.Value) {
	if raw == nil {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.object(path, raw, v)
	case reflect.Slice:
		d.array(path, raw, v)
	case reflect.Map:
		d.mapping(path, raw, v)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			if def, ok := v.Interface().(defaulter); ok {
				def.setDefaults() // a present section's defaults (TagFiltering)
			}
		}
		d.value(path, raw, v.Elem())
	case reflect.Interface:
		v.Set(reflect.ValueOf(raw))
	case reflect.String:
		d.str(path, raw, v)
	case reflect.Bool:
		d.boolean(path, raw, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.integer(path, raw, v)
	case reflect.Float32, reflect.Float64:
		d.float(path, raw, v)
	default:
		panic("BUG: configs: unsupported schema type " + v.Type().String())
	}
}

// object decodes a JSON object into struct v: known fields, then silently
// skipped unused keys, then extra keys, warning about the rest.
func (d *decoder) object(path string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.typeError(path, "an object", raw)
		return
	}
	unused := unusedOf(v)
	var extras []string
	for _, key := range sortedKeys(m) {
		p := join(path, key)
		switch {
		case d.field(p, m[key], v, key):
		case slices.Contains(unused, key):
		default:
			extras = append(extras, key)
		}
	}
	x, _ := v.Addr().Interface().(extraDecoder)
	for _, key := range extras {
		if x == nil || !x.decodeExtra(d, join(path, key), key, m[key]) {
			d.unknown(join(path, key))
		}
	}
}

// subset decodes the keys of a JSON object that are listed in allowed into
// struct v (unused ones are skipped), and warns about the others.
func (d *decoder) subset(path string, raw any, v reflect.Value, allowed []string) {
	m, ok := raw.(map[string]any)
	if !ok {
		if raw != nil {
			d.typeError(path, "an object", raw)
		}
		return
	}
	unused := unusedOf(v)
	for _, key := range sortedKeys(m) {
		p := join(path, key)
		switch {
		case !slices.Contains(allowed, key):
			d.unknown(p)
		case d.field(p, m[key], v, key):
		case slices.Contains(unused, key):
		default:
			d.unknown(p)
		}
	}
}

// field decodes raw into the field of struct v tagged key, reporting
// whether such a field exists.
func (d *decoder) field(path string, raw any, v reflect.Value, key string) bool {
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == key && t.Field(i).IsExported() {
			d.value(path, raw, v.Field(i))
			return true
		}
	}
	return false
}

func (d *decoder) array(path string, raw any, v reflect.Value) {
	items, ok := raw.([]any)
	if !ok {
		d.typeError(path, "an array", raw)
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(items))
	for i, item := range items {
		e := reflect.New(v.Type().Elem()).Elem()
		if def, ok := e.Addr().Interface().(defaulter); ok {
			def.setDefaults()
		}
		d.value(fmt.Sprintf("%s[%d]", path, i), item, e)
		out = reflect.Append(out, e)
	}
	v.Set(out)
}

func (d *decoder) mapping(path string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.typeError(path, "an object", raw)
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(m))
	for _, key := range sortedKeys(m) {
		e := reflect.New(v.Type().Elem()).Elem()
		d.value(join(path, key), m[key], e)
		out.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
	}
	v.Set(out)
}

func (d *decoder) str(path string, raw any, v reflect.Value) {
	switch r := raw.(type) {
	case string:
		v.SetString(r)
	case json.Number: // "id": 123 is an app id "123"
		v.SetString(string(r))
	default:
		d.typeError(path, "a string", raw)
	}
}

func (d *decoder) boolean(path string, raw any, v reflect.Value) {
	switch r := raw.(type) {
	case bool:
		v.SetBool(r)
	case string:
		switch strings.ToLower(strings.TrimSpace(r)) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.typeError(path, "a boolean", raw)
		}
	default:
		d.typeError(path, "a boolean", raw)
	}
}

func (d *decoder) integer(path string, raw any, v reflect.Value) {
	n, ok := parseInteger(raw)
	if !ok {
		d.typeError(path, "an integer", raw)
		return
	}
	if v.OverflowInt(n) {
		d.fail(path, "%d is out of range", n)
		return
	}
	v.SetInt(n)
}

func (d *decoder) float(path string, raw any, v reflect.Value) {
	s, ok := numberText(raw)
	f, err := strconv.ParseFloat(s, 64)
	if !ok || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.typeError(path, "a number", raw)
		return
	}
	v.SetFloat(f)
}

// numberText returns the text of a JSON number or of a string holding one
// (Sockudo accepts "1000" for 1000).
func numberText(raw any) (string, bool) {
	switch r := raw.(type) {
	case json.Number:
		return string(r), true
	case string:
		return strings.TrimSpace(r), true
	}
	return "", false
}

// parseInteger accepts integers, integral floats (1e3, 10.0) and the same
// as strings.
func parseInteger(raw any) (int64, bool) {
	s, ok := numberText(raw)
	if !ok {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func describe(raw any) string {
	switch r := raw.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + truncate(string(r))
	case string:
		return strconv.Quote(truncate(r))
	}
	return fmt.Sprintf("%T", raw)
}

func truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

func unusedOf(v reflect.Value) []string {
	if u, ok := v.Interface().(unusedKeyser); ok {
		return u.unusedKeys()
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
