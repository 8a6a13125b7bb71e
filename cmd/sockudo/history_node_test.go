package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
	"github.com/sockudo/sockudo-go/protocol"
)

// TestNodeHistoryInPostgres: a node configured as Sockudo's file would be
// (history on, backend postgres over database.postgres, a table prefix)
// creates the tables, stores what is published and serves it back.
func TestNodeHistoryInPostgres(t *testing.T) {
	db := pgtest.Start(t)
	port := freePort(t)
	n, log := startNode(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"metrics":{"enabled":false},
		"app_manager":{"driver":"memory","array":{"apps":[{"id":"1","key":"k","secret":"s"}]}},
		"history":{"enabled":true,"backend":"postgres","postgres":{"table_prefix":"h1"}},
		"database":{"postgres":{"host":"127.0.0.1","port":%d,"username":"postgres","database":%q}}}`, port, db.Port, db.Name))
	t.Cleanup(func() { _ = n.shutdown() })
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	call := func(method, path, body string, params map[string]string) (int, string) {
		t.Helper()
		q := protocol.SignRequest(method, path, params, []byte(body), "k", "s", time.Now())
		req, _ := http.NewRequest(method, base+path+"?"+q, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := 1; i <= 3; i++ {
		if code, body := call("POST", "/apps/1/events", fmt.Sprintf(`{"name":"ev","channel":"c","data":"%d"}`, i), nil); code != 200 {
			t.Fatalf("publish: %d %s", code, body)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.QueryInt(t, `SELECT count(*) FROM h1_entries`) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("entries not stored\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body := call("GET", "/apps/1/channels/c/history", "", map[string]string{"direction": "oldest_first"})
	if code != 200 || !strings.Contains(body, `"serial":1`) || !strings.Contains(body, `"serial":3`) {
		t.Fatalf("history: %d %s", code, body)
	}
}
