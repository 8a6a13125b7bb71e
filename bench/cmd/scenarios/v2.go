package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
	"github.com/sockudo/sockudo-go/bench/internal/pgserver"
)

// Protocol V2 scenarios (issue 12, "Speed"):
//
//   - 6-v2-resume: V2 clients drop their sockets at once while publishing
//     goes on, reconnect, re-subscribe and sockudo:resume (the "resume"
//     subcommand, bench/internal/resume); 100 % recovered, 0 duplicates,
//     0 gaps, and the time until all are caught up.
//   - 7-history-*: the same HTTP publish load with durable history off and
//     on in PostgreSQL (a private postgres the run starts): publish RTT
//     p50/p99 and the entries the server's writer stored per second. The
//     -max variants publish in a closed loop (the writer's ceiling).

// recoveryConfig turns connection recovery on with a replay buffer that
// holds far more than an outage of the scenario misses per channel.
const recoveryConfig = `"connection_recovery":{"enabled":true,"max_buffer_size":1000,"buffer_ttl_seconds":120}`

// historyLoad is the publish load of the history scenarios: signed
// single-event publishes over 100 channels (each channel is written by
// one writer shard, so one channel alone would measure a single writer).
const historyLoad = "-http-only -channels 100 -duration 10s -pub-conc 32"

func v2Scenarios(mode string) []scenario {
	if mode == "smoke" {
		return []scenario{
			{name: "6-v2-resume", sub: "resume", config: recoveryConfig,
				args: a("-clients 100 -channels 10 -rate 200 -warmup 1s -outage 300ms -tail 500ms -drain 5s -catchup-timeout 10s")},
		}
	}
	return []scenario{
		{name: "6-v2-resume", sub: "resume", config: recoveryConfig,
			target: "1,000 V2 clients / 100 channels dropped at once: 100 % recovered, 0 duplicates, 0 gaps",
			args:   a("-clients 1000 -channels 100 -rate 1000 -pub-conc 16 -warmup 2s -outage 1s -tail 2s")},
		{name: "7-history-off", history: true, args: a(historyLoad + " -rate 20000")},
		{name: "7-history-pg", history: true, pg: true, args: a(historyLoad + " -rate 20000"),
			target: "≥ 20,000 msgs/s stored, 0 dropped, publish p99 ≤ 1.2× 7-history-off",
			check: func(r *loadgen.Result, _ float64) string {
				return historyCheck(r, 20000)
			}},
		// At a rate both sustain on this box, the latency history adds.
		{name: "7-history-off-5k", history: true, args: a(historyLoad + " -rate 5000")},
		{name: "7-history-pg-5k", history: true, pg: true, args: a(historyLoad + " -rate 5000")},
		{name: "7-history-off-max", history: true, args: a(historyLoad + " -rate 0")},
		{name: "7-history-pg-max", history: true, pg: true, args: a(historyLoad + " -rate 0")},
	}
}

func historyCheck(r *loadgen.Result, minPerSec float64) string {
	h := r.History
	if h == nil {
		return "no history figures"
	}
	var miss []string
	if h.StoredPerSec < minPerSec {
		miss = append(miss, fmt.Sprintf("%.0f stored/s", h.StoredPerSec))
	}
	if h.Dropped > 0 {
		miss = append(miss, fmt.Sprintf("%d dropped", h.Dropped))
	}
	return strings.Join(miss, ", ")
}

// serverConfigExtra returns the JSON members a scenario adds to the
// server config: its own, and for history scenarios the history section
// (PostgreSQL with a table prefix of the scenario's own, or off).
func serverConfigExtra(s scenario, pg *pgserver.Server, seq int, historyOpts string) (string, error) {
	var parts []string
	if s.config != "" {
		parts = append(parts, s.config)
	}
	if s.pg {
		if pg == nil {
			return "", fmt.Errorf("needs PostgreSQL, which did not start")
		}
		if historyOpts != "" {
			historyOpts = "," + historyOpts
		}
		parts = append(parts,
			fmt.Sprintf(`"history":{"enabled":true,"backend":"postgres","postgres":{"table_prefix":"bench_%d"}%s}`, seq, historyOpts),
			fmt.Sprintf(`"database":{"postgres":{"host":"127.0.0.1","port":%d,"username":"postgres","password":"","database":"postgres","connection_pool_size":20}}`, pg.Port))
	} else if s.history {
		parts = append(parts, `"history":{"enabled":false}`)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return "," + strings.Join(parts, ","), nil
}

// printV2Rows prints the resume runs and the history comparison.
func printV2Rows(rows []row) {
	first := true
	for _, rw := range rows {
		r := rw.rr
		if r == nil {
			continue
		}
		if first {
			fmt.Printf("\n%-22s %7s %10s %6s %5s %9s %9s %10s %10s %10s  %s\n", "V2 recovery", "clients", "recovered", "dups", "gaps",
				"replayed", "pub/s", "resume p99", "caught p99", "all caught", "verdict")
			first = false
		}
		verdict := "ok"
		if rw.err != "" {
			verdict = "FAIL: " + rw.err
		}
		fmt.Printf("%-22s %7d %9.1f%% %6d %5d %9d %9.0f %8.0fms %8.0fms %8.0fms  %s\n", rw.name, r.Dropped, r.RecoveredPct,
			r.Duplicates, r.Gaps, r.Replayed, r.PubPerSec, r.ResumeMs["p99"], r.CaughtMs["p99"], r.AllCaughtFromReconnectMs, verdict)
	}
	// History: each repetition's pg run against the off run before it.
	var off *loadgen.Result
	first = true
	for _, rw := range rows {
		if rw.r == nil || !rw.s.history {
			continue
		}
		if first {
			fmt.Printf("\n%-22s %9s %9s %9s %9s %10s %9s %9s %10s\n", "history", "pub/s", "RTT p50", "RTT p99", "stored/s", "dropped",
				"srv µs/p", "pg µs/p", "p99 ratio")
			first = false
		}
		r := rw.r
		ratio := "-"
		if !rw.s.pg {
			off = r
		} else if off != nil && off.PubRTT != nil && r.PubRTT != nil && off.PubRTT["p99"] > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(r.PubRTT["p99"])/float64(off.PubRTT["p99"]))
		}
		stored, dropped := "-", "-"
		if h := r.History; h != nil && rw.s.pg {
			stored, dropped = fmt.Sprintf("%.0f", h.StoredPerSec), strconv.FormatInt(h.Dropped, 10)
		}
		pgus := "-"
		if rw.pgCPUUs > 0 && r.PubAccepted > 0 {
			pgus = fmt.Sprintf("%.2f", float64(rw.pgCPUUs)/float64(r.PubAccepted))
		}
		fmt.Printf("%-22s %9.0f %7.2fms %7.2fms %9s %10s %9.2f %9s %10s\n", rw.name, r.PubPerSec,
			float64(r.PubRTT["p50"])/1000, float64(r.PubRTT["p99"])/1000, stored, dropped, r.ServerUsPerPublish, pgus, ratio)
	}
}
