//go:build linux && !race

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// TestLargeBodiesNotKeptPerConnection: 50 keep-alive API connections each
// publish one batch of about 800 KB and stay open. The server must not keep
// a body buffer of that size per idle connection: its RSS comes back within
// 8 MiB of where it was within 5 s, the connections still open.
func TestLargeBodiesNotKeptPerConnection(t *testing.T) {
	const conns, events, eventBytes = 50, 8, 100 << 10
	srv := startChild(t, `{"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s",
		"max_event_payload_in_kb": 128}]}}}`, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	defer client.CloseIdleConnections()
	post := func(body []byte) error {
		path := "/apps/1/batch_events"
		q := protocol.SignRequest("POST", path, nil, body, "k", "s", time.Now())
		resp, err := client.Post("http://127.0.0.1:"+strconv.Itoa(srv.port)+path+"?"+q, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return &statusError{resp.StatusCode}
		}
		return nil
	}
	batch := func(size int) []byte {
		var b struct {
			Batch []map[string]string `json:"batch"`
		}
		for i := range events {
			b.Batch = append(b.Batch, map[string]string{"name": "big", "channel": "nobody-" + strconv.Itoa(i), "data": strings.Repeat("x", size)})
		}
		out, _ := json.Marshal(b)
		return out
	}
	// Every connection opened and used once with a small body first.
	concurrently(t, conns, func() error { return post(batch(8)) })
	time.Sleep(300 * time.Millisecond)
	before := srv.mustRSS(t)

	big := batch(eventBytes)
	concurrently(t, conns, func() error { return post(big) })
	end := time.Now()
	after := srv.mustRSS(t)
	for after > before+burstResidue && time.Since(end) < burstReturn {
		time.Sleep(100 * time.Millisecond)
		after = srv.mustRSS(t)
	}
	t.Logf("%d connections × one %d KiB body: RSS before %.1f MiB, %.1f MiB %v after", conns, len(big)>>10,
		mib(before), mib(after), time.Since(end).Round(100*time.Millisecond))
	if after > before+burstResidue {
		t.Errorf("RSS %.1f MiB %v after the bodies, want within %.0f MiB of %.1f", mib(after), burstReturn, mib(burstResidue), mib(before))
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "status " + strconv.Itoa(e.code) }

// concurrently runs f on n goroutines at once and fails on any error.
func concurrently(t *testing.T, n int, f func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- f()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
