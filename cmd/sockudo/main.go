// Command sockudo is a Pusher Channels protocol server: unmodified
// pusher-js, Laravel Echo and the Pusher server SDKs work against it, and it
// reads Sockudo's config.json.
//
// It is the composition root: the only place that reads flags and the
// environment, builds the adapters and owns the process signals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main without the exit, so tests can drive it.
func run(args []string, stderr io.Writer) int {
	cfg, opts, err := loadConfig(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sockudo:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The memory limit and the reclaimer are process-wide, so they are
	// set here and not in start, which tests run several times in one
	// process.
	limit, source := memoryLimit(cfg.MemoryLimitMB, os.LookupEnv, os.ReadFile)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	n, err := start(cfg, opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sockudo:", err)
		return 1
	}
	if l := debug.SetMemoryLimit(-1); l < math.MaxInt64 {
		n.log.Info("soft memory limit", "mib", l>>20, "source", source)
	} else {
		n.log.Info("no soft memory limit", "source", source)
	}
	go reclaimAfterBursts(ctx)
	select {
	case <-ctx.Done():
	case err = <-n.failed:
		n.log.Error("listener failed", "err", err)
	}
	stop()
	if serr := n.shutdown(); serr != nil {
		n.log.Warn("shutdown", "err", serr)
	}
	if err != nil {
		return 1
	}
	return 0
}
