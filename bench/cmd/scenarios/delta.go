package main

import (
	"fmt"

	"github.com/sockudo/sockudo-go/bench/internal/tickerdelta"
)

// Delta compression scenarios (issue 13, "Better than Sockudo"): 10,000
// V2 subscribers of one ticker channel, a 20-field payload of which two
// fields change, published at 2/s over the signed HTTP API (the
// "delta" subcommand, bench/internal/tickerdelta). 8-delta-plain is the
// baseline (the same subscribers without enable_delta_compression); the
// others negotiate deltas as the official client does and reconstruct
// every payload. Target: server CPU per delivery ≤ 1.3× plain, wire
// bytes per delivery ≥ 5× smaller.

// deltaSection is the server's delta_compression section of a scenario.
func deltaSection(members string) string {
	return `"delta_compression":{"enabled":true` + members + `}`
}

func deltaScenarios(mode string) []scenario {
	load := "-clients 10000 -rate 2 -messages 60"
	if mode == "smoke" {
		load = "-clients 200 -rate 20 -messages 30"
	}
	target := "CPU/delivery ≤ 1.3× 8-delta-plain, wire bytes/delivery ≥ 5× smaller, 100 % reconstructed"
	return []scenario{
		{name: "8-delta-plain", sub: "delta", config: deltaSection(""), args: a(load)},
		{name: "8-delta-fossil", sub: "delta", config: deltaSection(`,"algorithm":"fossil"`), args: a(load + " -delta"), target: target},
		{name: "8-delta-xdelta3", sub: "delta", config: deltaSection(`,"algorithm":"xdelta3"`), args: a(load + " -delta"), target: target},
		// The settings that minimise bytes: no periodic full frame within
		// the run, and no algorithm name on delta frames (the client uses
		// the one delta_compression_enabled announced).
		{name: "8-delta-fossil-min", sub: "delta", config: deltaSection(`,"algorithm":"fossil","full_message_interval":1000,"omit_delta_algorithm":true`),
			args: a(load + " -delta"), target: target},
	}
}

// deltaCheck judges a delta run against the plain run before it.
func deltaCheck(r, plain *tickerdelta.Result) string {
	if plain == nil || plain.ServerUsPerDelivery == 0 || r.BytesPerDeliv == 0 {
		return "no plain run to compare with"
	}
	var miss string
	if cpu := r.ServerUsPerDelivery / plain.ServerUsPerDelivery; cpu > 1.3 {
		miss = fmt.Sprintf("CPU %.2f× plain", cpu)
	}
	if by := plain.BytesPerDeliv / r.BytesPerDeliv; by < 5 {
		if miss != "" {
			miss += ", "
		}
		miss += fmt.Sprintf("bytes %.2f× smaller", by)
	}
	return miss
}

// printDeltaRows prints the delta runs, each against the plain run of
// the same repetition (the last one before it); judge adds the verdict
// on issue 13's targets (full mode: smoke sizes say nothing about them).
func printDeltaRows(rows []row, judge bool) {
	var plain *tickerdelta.Result
	first := true
	for _, rw := range rows {
		r := rw.dr
		if r == nil {
			continue
		}
		if first {
			fmt.Printf("\n%-22s %6s %9s %7s %8s %8s %9s %9s %9s %8s %11s %8s %-22s  %s\n", "delta (issue 13)", "subs", "deliv%", "exact%",
				"full", "delta", "full B", "delta B", "wire B/d", "srv µs/d", "(user/sys)", "ldr µs/d", "vs plain (cpu user B)", "verdict")
			first = false
		}
		cmp := "-"
		if !r.Config.Delta {
			plain = r
		} else if plain != nil && plain.ServerUsPerDelivery > 0 && r.BytesPerDeliv > 0 {
			user := "-"
			if plain.ServerUserUsPerDelivery > 0 {
				user = fmt.Sprintf("%.2f×", r.ServerUserUsPerDelivery/plain.ServerUserUsPerDelivery)
			}
			cmp = fmt.Sprintf("%.2f× %s %.2f×", r.ServerUsPerDelivery/plain.ServerUsPerDelivery, user, plain.BytesPerDeliv/r.BytesPerDeliv)
		}
		verdict := "ok"
		if rw.err != "" {
			verdict = "FAIL: " + rw.err
		}
		if judge && r.Config.Delta {
			if m := deltaCheck(r, plain); m == "" {
				verdict += "; target met"
			} else {
				verdict += "; target missed: " + m
			}
		}
		pct := func(n int64) float64 {
			if r.Expected == 0 {
				return 0
			}
			return 100 * float64(n) / float64(r.Expected)
		}
		fmt.Printf("%-22s %6d %8.3f%% %6.2f%% %8d %8d %9.1f %9.1f %9.1f %8.2f %5.2f/%5.2f %8.2f %-22s  %s\n", rw.name, r.Subscribed,
			pct(r.Received), pct(r.Exact), r.FullFrames, r.DeltaFrames, r.AvgFull, r.AvgDelta, r.BytesPerDeliv,
			r.ServerUsPerDelivery, r.ServerUserUsPerDelivery, r.ServerSysUsPerDelivery, r.LoaderUsPerDelivery, cmp, verdict)
	}
}
