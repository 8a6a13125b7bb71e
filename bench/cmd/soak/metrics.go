package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrape is one GET /metrics: series (name plus label set exactly as
// printed) → value.
type scrape map[string]float64

// scrapeClient opens a fresh connection per scrape so no idle keep-alive
// connection holds a server goroutine or descriptor between scrapes
// (every scrape, baseline and final, costs the server the same).
var scrapeClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func getMetrics(url string) (scrape, error) {
	resp, err := scrapeClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	s := scrape{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		s[line[:i]] = v
	}
	return s, sc.Err()
}

// get returns the value of name{labels}; labels as printed, e.g.
// `app_id="soak"`, or "" for a series without labels.
func (s scrape) get(name, labels string) float64 {
	if labels == "" {
		return s[name]
	}
	return s[name+"{"+labels+"}"]
}

// sum adds every series of name (any labels).
func (s scrape) sum(name string) float64 {
	var t float64
	for k, v := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			t += v
		}
	}
	return t
}

// heap is heap in use, under the Prometheus client's name or the
// runtime/metrics one.
func (s scrape) heap() float64 {
	for _, n := range []string{"go_memstats_heap_inuse_bytes", "go_memory_classes_heap_objects_bytes"} {
		if v, ok := s[n]; ok {
			return v
		}
	}
	return -1
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
