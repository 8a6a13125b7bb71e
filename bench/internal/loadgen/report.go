package loadgen

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

func ms(us int64) string { return fmt.Sprintf("%.2f ms", float64(us)/1000) }

// printTable writes the human report of one run.
func printTable(w io.Writer, r *Result) {
	c := r.Config
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "  %-30s %s\n", k, fmt.Sprintf(format, a...)) }
	fmt.Fprintf(w, "== %s ==\n", r.Scenario)
	mode := fmt.Sprintf("open loop %.0f events/s", c.Rate)
	if c.Rate == 0 {
		mode = "closed loop"
	}
	if c.HTTPOnly {
		mode += ", http-only"
	}
	row("setup", "%d conns / %d channels, %s, batch %d, payload %d B, %d publishers, sample 1/%d, %d loader proc(s)",
		r.Conns, c.Channels, mode, c.Batch, c.Payload, c.PubConc, c.Sample, r.LoaderProcs)
	if r.Conns > 0 {
		row("connect+subscribe", "%d ok, %d failed, %.2f s, %.0f /s (CPU server %.0f %%, loader %.0f %%)", r.ConnOK, r.ConnFailed,
			r.ConnectSecs, r.ConnectPerSec, r.ConnectServerCPUPct, r.ConnectLoaderCPUPct)
	}
	if c.ServerPID > 0 {
		row("server RSS", "base %d KiB, connected %d KiB, end %d KiB, %.2f KiB/conn", r.ServerRSSBaseKiB, r.ServerRSSConnKiB, r.ServerRSSEndKiB, r.KiBPerConn)
	}
	if r.IdleSecs > 0 {
		row("server idle CPU", "%.2f %% over %.1f s", r.ServerIdleCPUPct, r.IdleSecs)
	}
	if r.Requests == 0 && r.PublishSecs == 0 {
		return
	}
	row("publishes (events)", "%d accepted, %d failed, %d dropped by generator, %.0f /s, %d requests, mean RTT %.0f µs",
		r.PubAccepted, r.PubFailed, r.PubDropped, r.PubPerSec, r.Requests, r.HTTPMeanUs)
	if r.PubRTT != nil {
		row("publish RTT", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s",
			ms(r.PubRTT["p50"]), ms(r.PubRTT["p90"]), ms(r.PubRTT["p99"]), ms(r.PubRTT["p99.9"]), ms(r.PubRTT["max"]))
	}
	if h := r.History; h != nil {
		avg := 0.0
		if h.Batches > 0 {
			avg = float64(h.Stored) / float64(h.Batches)
		}
		row("history stored", "%d stored in %d writes (%.1f per write), %d dropped, %.0f /s (first publish → last write, %.2f s; last write %.0f ms after the last publish)%s",
			h.Stored, h.Batches, avg, h.Dropped, h.StoredPerSec, h.Secs, h.LagMs, errSuffix(h.Err))
	}
	if !c.HTTPOnly {
		row("deliveries", "%d / %d expected = %.3f %%, %.0f /s over %.2f s", r.Received, r.Expected, r.DeliveryPct, r.DeliveriesPS, r.ElapsedSecs)
	}
	if r.Timed > 0 {
		row("latency ("+fmt.Sprint(r.Timed)+" timed)", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s",
			ms(r.Latency["p50"]), ms(r.Latency["p90"]), ms(r.Latency["p99"]), ms(r.Latency["p99.9"]), ms(r.Latency["max"]))
	}
	if c.ServerPID > 0 {
		row("server CPU", "%.0f %% of a core, %.2f µs/delivery, %.2f µs/publish", r.ServerCPUPct, r.ServerUsPerDelivery, r.ServerUsPerPublish)
	}
	row("loader CPU", "%.0f %% of a core, %.2f µs/delivery", r.LoaderCPUPct, r.LoaderUsPerDelivery)
	row("loader GC", "%d cycles, %.2f ms total pause, max %d µs", r.LoaderGC.Count, float64(r.LoaderGC.PauseTotUs)/1000, r.LoaderGC.PauseMaxUs)
	if r.Closed > 0 {
		var codes []string
		for k, v := range r.CloseCodes {
			codes = append(codes, fmt.Sprintf("%d×%d", v, k))
		}
		sort.Strings(codes)
		row("closed by server", "%d (codes %s)", r.Closed, strings.Join(codes, " "))
	}
	for _, e := range r.PubErrors {
		row("publish error", "%s", e)
	}
	for _, e := range r.Errors {
		row("error", "%s", e)
	}
	verdict := "OK"
	if !r.OK {
		verdict = "FAIL"
	}
	row("verdict", "%s", verdict)
}

// percentileSVG draws latency against percentile on the usual HDR axis
// (x = log10(1/(1-p)), labelled 0 %, 90 %, 99 %, …).
func percentileSVG(r *Result) string {
	const W, H, L, R, T, B = 720.0, 420.0, 70.0, 20.0, 40.0, 50.0
	pts := r.Percentiles
	xOf := func(p float64) float64 {
		if p >= 100 {
			p = 99.9999
		}
		return math.Log10(1 / (1 - p/100))
	}
	xMax := 6.0 // 99.9999 %
	var yMax float64
	for _, p := range pts {
		yMax = math.Max(yMax, float64(p.Micros)/1000)
	}
	yMax = niceCeil(yMax)
	px := func(x float64) float64 { return L + x/xMax*(W-L-R) }
	py := func(y float64) float64 { return H - B - y/yMax*(H-T-B) }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&sb, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	c := r.Config
	fmt.Fprintf(&sb, `<text x="%.0f" y="20" font-size="14">%s: %d conns, %d channels, %.0f ev/s, %.3f %% delivered, %.0f deliveries/s</text>`+"\n",
		L, esc(r.Scenario), r.Conns, c.Channels, c.Rate, r.DeliveryPct, r.DeliveriesPS)
	for k, lab := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"} {
		x := px(float64(k))
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, T, x, H-B)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, H-B+16, lab)
	}
	for k := 0; k <= 5; k++ {
		y := yMax * float64(k) / 5
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", L, py(y), W-R, py(y))
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", L-6, py(y)+4, trimFloat(y))
	}
	fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="middle">percentile</text>`+"\n", (L+W-R)/2, H-10)
	fmt.Fprintf(&sb, `<text x="16" y="%.1f" transform="rotate(-90 16 %.1f)" text-anchor="middle">latency (ms)</text>`+"\n", (T+H-B)/2, (T+H-B)/2)
	var path strings.Builder
	for i, p := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, px(xOf(p.Percentile)), py(float64(p.Micros)/1000))
	}
	fmt.Fprintf(&sb, `<path d="%s" fill="none" stroke="#1f77b4" stroke-width="2"/>`+"\n", strings.TrimSpace(path.String()))
	for _, p := range pts {
		fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="3" fill="#1f77b4"><title>p%g = %.3f ms</title></circle>`+"\n",
			px(xOf(p.Percentile)), py(float64(p.Micros)/1000), p.Percentile, float64(p.Micros)/1000)
	}
	sb.WriteString("</svg>\n")
	return sb.String()
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return "; " + e
}
