package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

func TestAPIAuth(t *testing.T) {
	ts := startServer(t, nil)
	body := `{"name":"e","channels":["a"],"data":"x"}`
	f := func(name string, r apiResponse, status int) {
		t.Helper()
		t.Run(name, func(t *testing.T) { requireStatus(t, r, status) })
	}
	f("signed", ts.do(t, "POST", "/apps/1/events", nil, body, app1, true), 200)
	f("unknown app", ts.do(t, "POST", "/apps/999/events", nil, body, [3]string{"999", testKey, testSecret}, true), 404)
	f("unknown app unsigned", ts.do(t, "GET", "/apps/999/channels", nil, "", app1, false), 404)
	f("disabled app", ts.do(t, "POST", "/apps/2/events", nil, body, [3]string{"2", "disabled-key", "disabled-secret"}, true), 403)
	f("wrong secret", ts.do(t, "POST", "/apps/1/events", nil, body, [3]string{"1", testKey, "nope"}, true), 401)
	f("wrong key", ts.do(t, "POST", "/apps/1/events", nil, body, [3]string{"1", "other-key", testSecret}, true), 401)
	f("other app's credentials", ts.do(t, "GET", "/apps/1/channels", nil, "", [3]string{"3", "small-key", "small-secret"}, true), 401)
	f("no auth params", ts.do(t, "POST", "/apps/1/events", nil, body, app1, false), 401)
	f("no auth params GET", ts.do(t, "GET", "/apps/1/channels", nil, "", app1, false), 401)

	old := protocol.SignRequest("POST", "/apps/1/events", nil, []byte(body), testKey, testSecret, time.Now().Add(-700*time.Second))
	f("stale timestamp", ts.raw(t, "POST", "/apps/1/events?"+old, body), 401)

	q := protocol.SignRequest("POST", "/apps/1/events", nil, []byte(body), testKey, testSecret, time.Now())
	f("body changed", ts.raw(t, "POST", "/apps/1/events?"+q, strings.Replace(body, `"x"`, `"y"`, 1)), 401)
	f("path changed", ts.raw(t, "POST", "/apps/1/batch_events?"+q, body), 401)

	q = protocol.SignRequest("GET", "/apps/1/channels", map[string]string{"filter_by_prefix": "a"}, nil, testKey, testSecret, time.Now())
	f("query changed", ts.raw(t, "GET", "/apps/1/channels?"+strings.Replace(q, "filter_by_prefix=a", "filter_by_prefix=b", 1), ""), 401)
	f("query as signed", ts.raw(t, "GET", "/apps/1/channels?"+q, ""), 200)

	r := ts.do(t, "POST", "/apps/1/events", nil, body, [3]string{"1", testKey, "nope"}, true)
	if !strings.Contains(r.body, "signature") && !strings.Contains(r.body, "auth") {
		t.Errorf("401 body does not say why: %s", r.body)
	}
}

func TestRequestLimit(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.RequestLimitBytes = 2048 })
	data := strings.Repeat("x", 1500)
	requireStatus(t, ts.post(t, "/events", `{"name":"e","channels":["a"],"data":"`+data+`"}`), http.StatusOK)
	data = strings.Repeat("x", 3000)
	requireStatus(t, ts.post(t, "/events", `{"name":"e","channels":["a"],"data":"`+data+`"}`), http.StatusRequestEntityTooLarge)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	ts := startServer(t, nil)
	requireStatus(t, ts.raw(t, "GET", "/nope", ""), 404)
	requireStatus(t, ts.raw(t, "GET", "/apps/1/nope", ""), 404)
	requireStatus(t, ts.raw(t, "GET", "/apps/1/events/", ""), 404)
	r := ts.raw(t, "GET", "/apps/1/events", "")
	requireStatus(t, r, 405)
	requireStatus(t, ts.raw(t, "DELETE", "/apps/1/channels", ""), 405)
	requireStatus(t, ts.raw(t, "POST", "/app/"+testKey, ""), 405)
}
