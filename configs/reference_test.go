package configs

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestReferenceIsComplete keeps REFERENCE.md in step with the schema:
// every key, every ignored Sockudo key and every environment variable the
// loader reads must appear in it.
func TestReferenceIsComplete(t *testing.T) {
	data, err := os.ReadFile("REFERENCE.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	need := func(what, s string) {
		t.Helper()
		if !strings.Contains(doc, s) {
			t.Errorf("REFERENCE.md lacks %s %s", what, s)
		}
	}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		switch {
		case typ.Kind() == reflect.Struct:
			if u, ok := reflect.Zero(typ).Interface().(unusedKeyser); ok {
				for _, k := range u.unusedKeys() {
					need("ignored key", "`"+join(path, k)+"`")
				}
			}
			for i := range typ.NumField() {
				name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
				walk(join(path, name), typ.Field(i).Type)
			}
		case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Struct:
			need("key", "`"+path+"`")
			walk(path+"[]", typ.Elem())
		default:
			need("key", "`"+path+"`")
		}
	}
	walk("", reflect.TypeOf(Config{}))
	c := Default()
	for _, e := range append(c.envVars(), c.sqlEnvVars()...) {
		need("environment variable", "`"+e.name+"`")
	}
	for _, e := range defaultAppEnvVars(&App{}) {
		need("environment variable", "`"+defaultAppPrefix+e.name+"`")
	}
	for _, flag := range []string{"--config", "--host", "--port", "--metrics-host", "--metrics-port", "--shards", "--log-level", "--memory-limit-mb"} {
		need("flag", flag)
	}
}
