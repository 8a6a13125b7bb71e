package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-json"
)

// Load builds the configuration: defaults, then the file at path (skipped
// when path is ""), then environment overrides (Sockudo's variable names,
// read through getenv; nil means no environment), then ApplyDefaults, then
// Validate.
//
// The file must end in .json. Before parsing, ${VAR} and ${VAR:-default}
// in it are replaced from getenv (an empty variable counts as unset, as in
// Sockudo); a variable with neither a value nor a default is an error.
//
// The warnings name every ignored key by its dotted path (for example
// app_manager.array.apps[0].colour) plus a few other non-fatal findings.
// The error, when not nil, names the key or environment variable at
// fault (not the file, which the caller knows); the returned Config is
// then the zero value.
func Load(path string, getenv func(string) (string, bool)) (Config, []string, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	if path == "" {
		return parse(nil, getenv)
	}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
	case ".toml":
		return Config{}, nil, fmt.Errorf("config: %s: TOML config files are not supported; write the same keys as JSON (config.json)", path)
	default:
		return Config{}, nil, fmt.Errorf("config: %s: unsupported file extension %q; only .json is supported", path, ext)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("config: %w", err)
	}
	return parse(data, getenv)
}

// parse is Load after reading the file: data == nil means no file.
func parse(data []byte, getenv func(string) (string, bool)) (Config, []string, error) {
	cfg := Default()
	var warnings []string
	if data != nil {
		w, err := cfg.decodeFile(data, getenv)
		warnings = w
		if err != nil {
			return Config{}, warnings, err
		}
	}
	w, err := cfg.applyEnv(getenv)
	warnings = append(warnings, w...)
	if err != nil {
		return Config{}, warnings, err
	}
	cfg.Adapter.ClusterHealth = cfg.ClusterHealth
	cfg.ApplyDefaults()
	warnings = append(warnings, cfg.webhookWarnings()...)
	if len(cfg.Apps()) == 0 && !cfg.appDriverIsSQL() {
		warnings = append(warnings, "config: no apps configured (app_manager.array.apps is empty and SOCKUDO_DEFAULT_APP_* is unset); every connection will be refused")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, warnings, err
	}
	return cfg, warnings, nil
}

// decodeFile substitutes variables in data, parses it and decodes it onto
// c.
func (c *Config) decodeFile(data []byte, getenv func(string) (string, bool)) ([]string, error) {
	text, err := substitute(string(data), getenv)
	if err != nil {
		return nil, err
	}
	raw, err := parseJSON([]byte(text))
	if err != nil {
		return nil, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("config: the file must hold a JSON object, got %s", describe(raw))
	}
	d := &decoder{}
	d.object("", m, reflect.ValueOf(c).Elem())
	if err := d.err(); err != nil {
		return d.warnings, err
	}
	c.mergeClusterHealth(m)
	return d.warnings, nil
}

// mergeClusterHealth makes the keys given under adapter.cluster_health win
// over the top-level cluster_health section: Sockudo's adapters read the
// former, its environment variables write the latter.
func (c *Config) mergeClusterHealth(raw map[string]any) {
	adapter, _ := raw["adapter"].(map[string]any)
	given, _ := adapter["cluster_health"].(map[string]any)
	from, to := c.Adapter.ClusterHealth, &c.ClusterHealth
	if given["enabled"] != nil {
		to.Enabled = from.Enabled
	}
	if given["heartbeat_interval_ms"] != nil {
		to.HeartbeatIntervalMs = from.HeartbeatIntervalMs
	}
	if given["node_timeout_ms"] != nil {
		to.NodeTimeoutMs = from.NodeTimeoutMs
	}
	if given["cleanup_interval_ms"] != nil {
		to.CleanupIntervalMs = from.CleanupIntervalMs
	}
}

// parseJSON decodes one JSON value with numbers kept as json.Number, so
// integers are exact and "1.5" for an integer key is an error, not 1.
func parseJSON(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, jsonError(data, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config: invalid JSON: unexpected data after the top-level value")
	}
	return raw, nil
}

func jsonError(data []byte, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("config: invalid JSON: unexpected end of file")
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) && syn.Offset >= 0 && syn.Offset <= int64(len(data)) {
		before := data[:syn.Offset]
		line := bytes.Count(before, []byte("\n")) + 1
		col := int(syn.Offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
		return fmt.Errorf("config: invalid JSON at line %d, column %d: %w", line, col, err)
	}
	return fmt.Errorf("config: invalid JSON: %w", err)
}

// substitute replaces ${NAME} and ${NAME:-default} (NAME is
// [A-Za-z_][A-Za-z0-9_]*) as Sockudo does: values are inserted verbatim, so
// "port": ${PORT} yields a number and a quoted placeholder a string.
func substitute(s string, getenv func(string) (string, bool)) (string, error) {
	var out strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			out.WriteString(s)
			break
		}
		out.WriteString(s[:i])
		name, def, hasDef, n := placeholder(s[i:])
		if n < 0 { // "${NAME:-" never closed: nothing later can close either
			out.WriteString(s[i:])
			break
		}
		if n == 0 { // not a placeholder: keep "${" and go on
			out.WriteString("${")
			s = s[i+2:]
			continue
		}
		switch v, ok := getenv(name); {
		case ok && v != "":
			out.WriteString(v)
		case hasDef:
			out.WriteString(def)
		default:
			out.WriteString(s[i : i+n])
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
		}
		s = s[i+n:]
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("config: unresolved environment variables in config: %s (set them or write ${NAME:-default})", strings.Join(missing, ", "))
	}
	return out.String(), nil
}

// placeholder parses "${NAME}" or "${NAME:-default}" at the start of s,
// returning its length n, n == 0 when s does not start with one, or n < 0
// when s holds no '}' after "${NAME:-".
func placeholder(s string) (name, def string, hasDef bool, n int) {
	j := 2
	for j < len(s) && isNameByte(s[j], j == 2) {
		j++
	}
	if j == 2 || j >= len(s) {
		return "", "", false, 0
	}
	name = s[2:j]
	if s[j] == '}' {
		return name, "", false, j + 1
	}
	if !strings.HasPrefix(s[j:], ":-") {
		return "", "", false, 0
	}
	end := strings.IndexByte(s[j+2:], '}')
	if end < 0 {
		return "", "", false, -1
	}
	return name, s[j+2 : j+2+end], true, j + 2 + end + 1
}

func isNameByte(b byte, first bool) bool {
	return b == '_' || 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || !first && '0' <= b && b <= '9'
}
