// Command loadgen drives any Pusher-protocol server over loopback: N raw
// WebSocket subscribers over C channels, signed HTTP publishes, and a report
// of deliveries, HDR latency and CPU per delivery. See bench/README.md.
package main

import (
	"os"

	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
)

func main() {
	os.Exit(loadgen.Main(os.Args[1:], nil, os.Stdout, os.Stderr))
}
