package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sockudo/sockudo-go/configs"
)

// flagValues are the command-line overrides; they win over the file and
// the environment.
type flagValues struct {
	config      string
	host        string
	port        int
	metricsHost string
	metricsPort int
	shards      int
	logLevel    string
	memLimitMB  int
	pprof       bool
	reusePort   bool
}

// options are the command-line settings that are not part of the
// configuration file.
type options struct {
	pprof     bool
	reusePort bool
	// reread loads the configuration again from the same flags, file and
	// environment (SIGHUP); its warnings go to the writer. nil in tests
	// that build a node without loadConfig.
	reread func(warnings *bytes.Buffer) (configs.Config, error)
}

// loadConfig parses args, loads the config file and the environment, and
// applies the flags that were set.
func loadConfig(args []string, getenv func(string) (string, bool), stderr io.Writer) (configs.Config, options, error) {
	var fv flagValues
	fs := flag.NewFlagSet("sockudo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&fv.config, "config", "", "Sockudo-schema JSON config file")
	fs.StringVar(&fv.host, "host", "", "address of the WebSocket and HTTP API listener (config host, env HOST)")
	fs.IntVar(&fv.port, "port", 0, "port of the WebSocket and HTTP API listener (config port, env PORT)")
	fs.StringVar(&fv.metricsHost, "metrics-host", "", "address of the metrics listener (config metrics.host, env METRICS_HOST)")
	fs.IntVar(&fv.metricsPort, "metrics-port", 0, "port of the metrics listener (config metrics.port, env METRICS_PORT)")
	fs.IntVar(&fv.shards, "shards", 0, "number of lock shards / connection workers; 0 = GOMAXPROCS (config shards, env SHARDS)")
	fs.StringVar(&fv.logLevel, "log-level", "", "debug, info, warn or error (config log_level, env LOG_LEVEL)")
	fs.IntVar(&fv.memLimitMB, "memory-limit-mb", 0, "soft memory limit of the Go runtime in MiB; 0 = GOMEMLIMIT or 90% of the cgroup's/machine's memory, -1 = none (config memory_limit_mb, env MEMORY_LIMIT_MB)")
	fs.BoolVar(&fv.pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the metrics listener")
	fs.BoolVar(&fv.reusePort, "reuse-port", false, "bind with SO_REUSEPORT so several processes (nodes on a bus) share the port")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sockudo [flags]\n\nPrecedence: flags > environment > config file > defaults.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return configs.Config{}, options{}, err
	}
	opts := options{pprof: fv.pprof, reusePort: fv.reusePort}
	opts.reread = func(w *bytes.Buffer) (configs.Config, error) {
		cfg, _, err := loadConfig(args, getenv, w)
		return cfg, err
	}
	if fs.NArg() > 0 {
		return configs.Config{}, opts, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	cfg, warnings, err := configs.Load(fv.config, getenv)
	if err != nil {
		return cfg, opts, err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "sockudo: config warning:", w)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	apply := func(name string, fn func()) {
		if set[name] {
			fn()
		}
	}
	apply("host", func() { cfg.Host = fv.host })
	apply("port", func() { cfg.Port = fv.port })
	apply("metrics-host", func() { cfg.Metrics.Host = fv.metricsHost })
	apply("metrics-port", func() { cfg.Metrics.Port = fv.metricsPort })
	apply("shards", func() { cfg.Shards = fv.shards })
	apply("log-level", func() { cfg.LogLevel = fv.logLevel })
	apply("memory-limit-mb", func() { cfg.MemoryLimitMB = fv.memLimitMB })
	if err := cfg.Validate(); err != nil {
		return cfg, opts, err
	}
	return cfg, opts, nil
}
