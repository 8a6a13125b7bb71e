package loadgen

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HistoryResult is what the server's durable-history writer did with the
// run's publishes, from its own counters (-metrics): the writer runs
// behind the publish path, so entries are counted when the store has
// them, not when the publish was answered.
type HistoryResult struct {
	Stored       int64   `json:"stored"`
	Batches      int64   `json:"batches"` // store writes that carried them
	Dropped      int64   `json:"dropped"`
	Secs         float64 `json:"secs"`   // first publish → last entry stored
	LagMs        float64 `json:"lag_ms"` // last publish answered → last entry stored
	StoredPerSec float64 `json:"stored_per_sec"`
	Err          string  `json:"error,omitempty"`
}

// historyMark is the counters before the publish phase.
type historyMark struct {
	writes, dropped, batches int64
	err                      error
}

// History counter names as the server exposes them (expose/catalog.go,
// default prefix).
const (
	metricHistoryWrites  = "sockudo_history_writes_total"
	metricHistoryDropped = "sockudo_history_dropped_total"
	metricHistoryBatches = "sockudo_history_write_batches_total"
)

func markHistory(url string) historyMark {
	w, d, b, err := scrapeHistory(url)
	return historyMark{w, d, b, err}
}

// waitHistory polls the counters until every accepted publish is stored
// or dropped, or until nothing changed for a second (or maxWait passed).
func waitHistory(url string, m historyMark, accepted int64, t0 time.Time, maxWait time.Duration) *HistoryResult {
	r := &HistoryResult{}
	if m.err != nil {
		r.Err = "metrics: " + m.err.Error()
		return r
	}
	pubEnd := time.Now()
	deadline := pubEnd.Add(maxWait)
	last, lastChange := int64(-1), pubEnd
	for {
		w, d, b, err := scrapeHistory(url)
		now := time.Now()
		if err != nil {
			r.Err = "metrics: " + err.Error()
			return r
		}
		r.Stored, r.Dropped, r.Batches = w-m.writes, d-m.dropped, b-m.batches
		if r.Stored+r.Dropped != last {
			last, lastChange = r.Stored+r.Dropped, now
		}
		if last >= accepted || now.Sub(lastChange) > time.Second || now.After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.Secs = lastChange.Sub(t0).Seconds()
	r.LagMs = float64(lastChange.Sub(pubEnd)) / float64(time.Millisecond)
	if r.LagMs < 0 {
		r.LagMs = 0
	}
	if r.Secs > 0 {
		r.StoredPerSec = float64(r.Stored) / r.Secs
	}
	if r.Stored+r.Dropped < accepted {
		r.Err = fmt.Sprintf("%d accepted publishes neither stored nor dropped", accepted-r.Stored-r.Dropped)
	}
	return r
}

var metricsClient = &http.Client{Timeout: 5 * time.Second}

// scrapeHistory reads the history counters from a Prometheus text page
// (0 when a counter is absent: nothing happened yet).
func scrapeHistory(url string) (writes, dropped, batches int64, err error) {
	resp, err := metricsClient.Get(url)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, 0, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		switch name {
		case metricHistoryWrites:
			writes = parseCounter(val)
		case metricHistoryDropped:
			dropped = parseCounter(val)
		case metricHistoryBatches:
			batches = parseCounter(val)
		}
	}
	return writes, dropped, batches, sc.Err()
}

func parseCounter(s string) int64 {
	f, _ := strconv.ParseFloat(strings.Fields(s)[0], 64)
	return int64(f)
}
