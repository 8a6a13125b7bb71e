package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
)

// SubcommandMain is the Main of a scenario subcommand (resume, delta):
// exit 2 when the flags are bad, 1 when the run could not be made, 3 when
// it was made but ok says it missed its checks, 0 otherwise. name
// prefixes the error printed on stderr.
func SubcommandMain[C, R any](name string, args []string, stdout, stderr io.Writer,
	parse func([]string, io.Writer) (C, error), run func(C, io.Writer) (R, error), ok func(R) bool) int {
	cfg, err := parse(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	r, err := run(cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	if !ok(r) {
		return 3
	}
	return 0
}

// WSHost returns the host:port of a -ws flag, which must be ws://host:port.
func WSHost(ws string) (string, error) {
	u, err := url.Parse(ws)
	if err != nil || u.Scheme != "ws" || u.Host == "" {
		return "", fmt.Errorf("-ws must be ws://host:port (got %q)", ws)
	}
	return u.Host, nil
}

// WriteJSON writes v, indented, to path (nothing when path is empty): a
// scenario's result for the scenarios command to read.
func WriteJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("result JSON: %w", err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Progress returns a printer of progress lines on out (one line per call),
// silent when quiet.
func Progress(out io.Writer, quiet bool) func(format string, a ...any) {
	return func(format string, a ...any) {
		if !quiet {
			fmt.Fprintf(out, format+"\n", a...)
		}
	}
}
