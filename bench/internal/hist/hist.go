// Package hist wraps an HDR histogram of latencies in microseconds and its
// merge across goroutines and loader processes (raw bucket counts as JSON).
package hist

import (
	"encoding/json"
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Range: 1 µs .. 10 min, 3 significant digits (0.1 % value error).
const (
	lowest  = 1
	highest = 600_000_000
	sigfigs = 3
)

// H is a latency histogram in µs. It is not safe for concurrent use: each
// reader goroutine owns one and they are merged at the end.
type H struct{ h *hdr.Histogram }

// New returns an empty histogram.
func New() *H { return &H{hdr.New(lowest, highest, sigfigs)} }

// Record adds one latency in µs, clamped into the trackable range.
func (x *H) Record(us int64) {
	if us < lowest {
		us = lowest
	}
	if us > highest {
		us = highest
	}
	_ = x.h.RecordValue(us)
}

// Merge adds every count of o into x.
func (x *H) Merge(o *H) { x.h.Merge(o.h) }

// Count is the number of recorded values.
func (x *H) Count() int64 { return x.h.TotalCount() }

// Quantile returns the value at q in [0,100] (percent), in µs.
func (x *H) Quantile(pct float64) int64 { return x.h.ValueAtPercentile(pct) }

// Max returns the largest recorded value (µs).
func (x *H) Max() int64 { return x.h.Max() }

// Mean returns the mean (µs).
func (x *H) Mean() float64 { return x.h.Mean() }

// MarshalJSON exports the raw bucket counts.
func (x *H) MarshalJSON() ([]byte, error) { return json.Marshal(x.h.Export()) }

// UnmarshalJSON imports raw bucket counts written by MarshalJSON.
func (x *H) UnmarshalJSON(b []byte) error {
	var s hdr.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("hist: %w", err)
	}
	x.h = hdr.Import(&s)
	return nil
}

// Point is one point of a percentile distribution.
type Point struct {
	Percentile float64 `json:"percentile"`
	Micros     int64   `json:"us"`
}

// Percentiles returns the latency at a fixed ladder of percentiles
// (0 … 99.999, then max), the data behind the SVG plot.
func (x *H) Percentiles() []Point {
	ladder := []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999}
	out := make([]Point, 0, len(ladder)+1)
	for _, p := range ladder {
		out = append(out, Point{p, x.Quantile(p)})
	}
	return append(out, Point{100, x.Max()})
}
