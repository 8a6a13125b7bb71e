package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/sockudo/sockudo-go/protocol"
)

// TestSockudoHTTPTotalsCountAPICallsPerApp: the Sockudo-compatible HTTP
// totals count REST API calls of known apps only, every series carries
// app_id, and neither a WebSocket upgrade, a health check nor a request
// for an unknown app counts there (the latter stays in
// http_api_requests_total).
func TestSockudoHTTPTotalsCountAPICallsPerApp(t *testing.T) {
	port, mport := freePort(t), freePort(t)
	n, _ := startNode(t, `{"host": "127.0.0.1", "port": `+strconv.Itoa(port)+`, "shards": 1,
		"metrics": {"enabled": true, "host": "127.0.0.1", "port": `+strconv.Itoa(mport)+`},
		"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s"}]}}}`)
	defer func() {
		if err := n.shutdown(); err != nil {
			t.Error(err)
		}
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitStatus(t, base+"/up", http.StatusOK)

	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/app/k?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil { // connection_established
		t.Fatal(err)
	}
	get := func(path string, want int) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	get("/apps/1/channels?"+protocol.SignRequest("GET", "/apps/1/channels", nil, nil, "k", "s", time.Now()), http.StatusOK)
	get("/apps/nope/channels?"+protocol.SignRequest("GET", "/apps/nope/channels", nil, nil, "k", "s", time.Now()), http.StatusNotFound)
	get("/up/1", http.StatusOK)

	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	scrape := string(b)
	for _, family := range []string{"sockudo_http_calls_received_total", "sockudo_http_received_bytes", "sockudo_http_transmitted_bytes"} {
		for _, line := range strings.Split(scrape, "\n") {
			if name, _, _ := strings.Cut(line, " "); name == family || strings.HasPrefix(line, family+"{") && !strings.HasPrefix(line, family+`{app_id="`) {
				t.Errorf("a series without app_id: %s", line)
			}
		}
	}
	for _, want := range []string{
		`sockudo_http_calls_received_total{app_id="1"} 1` + "\n",
		`sockudo_http_received_bytes{app_id="1"} 0` + "\n",
		`sockudo_http_api_requests_total{path="/apps/{app_id}/channels",method="GET",status_code="404"} 1` + "\n",
		`sockudo_http_api_requests_total{path="/app/{key}",method="GET",status_code="101"} 1` + "\n",
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("scrape lacks %q:\n%s", want, grepLines(scrape, "http"))
		}
	}
	if strings.Contains(scrape, `sockudo_http_transmitted_bytes{app_id="1"} 0`+"\n") {
		t.Errorf("the API call's answer not counted:\n%s", grepLines(scrape, "http_transmitted"))
	}
}
