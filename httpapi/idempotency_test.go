package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/idempotency"
	"github.com/sockudo/sockudo-go/protocol"
)

// withGuard turns idempotency on over store (a fresh memory store when
// nil) with the default TTL, key length and wait.
func withGuard(store idempotency.Store, obs idempotency.Observer) func(*Options) {
	return func(o *Options) {
		if store == nil {
			store = idempotency.NewMemoryStore(0, nil)
		}
		o.Idempotency = idempotency.New(idempotency.Options{Store: store, Observer: obs})
	}
}

// keyedResponse is an answer with the headers idempotency sets.
type keyedResponse struct {
	apiResponse
	retryAfter string
}

// postKeyed signs and posts body to /apps/1{sub} with X-Idempotency-Key:
// key (no header when key is nil).
func (ts *testServer) postKeyed(t *testing.T, sub, body string, key *string) keyedResponse {
	t.Helper()
	path := "/apps/1" + sub
	q := protocol.SignRequest(http.MethodPost, path, nil, []byte(body), testKey, testSecret, time.Now())
	req, err := http.NewRequest(http.MethodPost, "http://"+ts.addr+path+"?"+q, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != nil {
		req.Header["X-Idempotency-Key"] = []string{*key}
	}
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", path, err)
		return keyedResponse{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return keyedResponse{apiResponse{resp.StatusCode, string(b), resp.Header.Get("Content-Type")}, resp.Header.Get("Retry-After")}
}

// countEvents reads w's frames until the sentinel event "end" (published
// last, without a key) and returns how many of them were event.
func (ts *testServer) countEvents(t *testing.T, w *wsClient, channel, event string) int {
	t.Helper()
	requireStatus(t, ts.post(t, "/events", `{"name":"end","channel":"`+channel+`","data":"{}"}`), 200)
	n := 0
	for {
		f := w.next()
		switch f.Event {
		case "end":
			return n
		case event:
			n++
		}
	}
}

// requireCoded checks a refusal carrying Sockudo's string code.
func requireCoded(t *testing.T, r keyedResponse, status int, code string) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if r.status != status || decodeJSON([]byte(r.body), &e) != nil || e.Code != code || e.Error == "" {
		t.Fatalf("got %d %s, want %d with code %q", r.status, r.body, status, code)
	}
}

// counter counts the Guard's outcomes.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Idempotency(outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[outcome]++
}

func (c *counter) get(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[outcome]
}

func TestIdempotentDuplicateGetsFirstResponseAndIsNotBroadcast(t *testing.T) {
	obs := &counter{}
	ts := startServerWith(t, withRecovery, withGuard(nil, obs))
	w := ts.dial(t)
	w.subscribe("orders")
	body := `{"name":"paid","channels":["orders","other"],"data":"{\"id\":1}","info":"subscription_count","message_id":"m-1"}`
	first := ts.postKeyed(t, "/events", body, ptr("order-1"))
	requireStatus(t, first.apiResponse, 200)
	if !strings.Contains(first.body, `"acknowledgement_id":"m-1"`) {
		t.Fatalf("first response %s", first.body)
	}
	// The body key wins over the header; both name the same request here.
	for _, r := range []keyedResponse{
		ts.postKeyed(t, "/events", body, ptr("order-1")),
		ts.postKeyed(t, "/events", strings.Replace(body, `"info"`, `"idempotency_key":"order-1","info"`, 1), nil),
	} {
		requireStatus(t, r.apiResponse, 200)
		if r.body != first.body {
			t.Fatalf("duplicate answered %s, want the first response %s", r.body, first.body)
		}
	}
	if n := ts.countEvents(t, w, "orders", "paid"); n != 1 {
		t.Fatalf("%d broadcasts of one keyed event sent three times, want 1", n)
	}
	if got := obs.get(idempotency.ObservedDuplicate); got != 2 {
		t.Fatalf("duplicates counted %d, want 2", got)
	}

	// The same key with another payload is refused, and not published.
	other := ts.postKeyed(t, "/events", strings.Replace(body, `\"id\":1`, `\"id\":2`, 1), ptr("order-1"))
	requireStatus(t, other.apiResponse, 400)
	if !strings.Contains(other.body, "idempotency key was already used with a different payload") {
		t.Fatalf("conflict body %s", other.body)
	}
	if n := ts.countEvents(t, w, "orders", "paid"); n != 0 {
		t.Fatalf("conflicting payload broadcast %d times", n)
	}
	if obs.get(idempotency.ObservedConflict) != 1 {
		t.Fatalf("conflicts counted %d", obs.get(idempotency.ObservedConflict))
	}
}

func TestIdempotencyKeyValidation(t *testing.T) {
	ts := startServer(t, withGuard(nil, nil))
	ev := `{"name":"e","channel":"c","data":"x"}`
	requireStatus(t, ts.postKeyed(t, "/events", ev, ptr("")).apiResponse, 400)
	requireStatus(t, ts.postKeyed(t, "/events", ev, ptr(strings.Repeat("k", 129))).apiResponse, 400)
	requireStatus(t, ts.postKeyed(t, "/events", ev, ptr(strings.Repeat("k", 128))).apiResponse, 200)
	requireStatus(t, ts.postKeyed(t, "/batch_events", `{"batch":[`+ev+`]}`, ptr("")).apiResponse, 400)
	requireStatus(t, ts.post(t, "/events", `{"name":"e","channel":"c","data":"x","idempotency_key":""}`), 400)
	requireStatus(t, ts.post(t, "/events", `{"name":"e","channel":"c","data":"x","extras":{"idempotencyKey":"`+strings.Repeat("k", 129)+`"}}`), 400)
	// max_key_length is configurable.
	short := startServer(t, func(o *Options) {
		o.Idempotency = idempotency.New(idempotency.Options{Store: idempotency.NewMemoryStore(0, nil), MaxKeyLength: 4})
	})
	requireStatus(t, short.postKeyed(t, "/events", ev, ptr("12345")).apiResponse, 400)
	requireStatus(t, short.post(t, "/events", `{"name":"e","channel":"c","data":"x","idempotency_key":"12345"}`), 400)
	requireStatus(t, short.postKeyed(t, "/events", ev, ptr("1234")).apiResponse, 200)
}

// gatedStore holds Commit until release is closed: the first request
// stays in flight as long as the test wants.
type gatedStore struct {
	*idempotency.MemoryStore
	committing chan struct{}
	release    chan struct{}
}

func (g *gatedStore) Commit(ctx context.Context, key, token string, e idempotency.Entry, ttl time.Duration) error {
	g.committing <- struct{}{}
	<-g.release
	return g.MemoryStore.Commit(ctx, key, token, e, ttl)
}

func TestIdempotentRequestInFlightIsRefusedWithRetryAfter(t *testing.T) {
	store := &gatedStore{idempotency.NewMemoryStore(0, nil), make(chan struct{}, 1), make(chan struct{})}
	obs := &counter{}
	ts := startServer(t, withGuard(store, obs))
	w := ts.dial(t)
	w.subscribe("c")
	ev := `{"name":"e","channel":"c","data":"x"}`
	first := make(chan keyedResponse, 1)
	go func() { first <- ts.postKeyed(t, "/events", ev, ptr("k")) }()
	<-store.committing // published, its answer not yet kept
	second := ts.postKeyed(t, "/events", ev, ptr("k"))
	requireCoded(t, second, 503, "backpressure")
	if second.retryAfter != "1" {
		t.Fatalf("Retry-After %q, want 1", second.retryAfter)
	}
	if obs.get(idempotency.ObservedInFlight) != 1 {
		t.Fatalf("in-flight refusals counted %d", obs.get(idempotency.ObservedInFlight))
	}
	close(store.release)
	requireStatus(t, (<-first).apiResponse, 200)
	requireStatus(t, ts.postKeyed(t, "/events", ev, ptr("k")).apiResponse, 200)
	if n := ts.countEvents(t, w, "c", "e"); n != 1 {
		t.Fatalf("%d broadcasts, want 1", n)
	}
}

func TestIdempotentDuplicateWaitsForTheFirstAnswer(t *testing.T) {
	store := &gatedStore{idempotency.NewMemoryStore(0, nil), make(chan struct{}, 1), make(chan struct{})}
	ts := startServer(t, func(o *Options) {
		o.Idempotency = idempotency.New(idempotency.Options{Store: store, Wait: waitFor})
	})
	ev := `{"name":"e","channel":"c","data":"x"}`
	first := make(chan keyedResponse, 1)
	go func() { first <- ts.postKeyed(t, "/events", ev, ptr("k")) }()
	<-store.committing
	second := make(chan keyedResponse, 1)
	go func() { second <- ts.postKeyed(t, "/events", ev, ptr("k")) }()
	time.Sleep(100 * time.Millisecond) // let the duplicate start waiting
	close(store.release)
	a, b := <-first, <-second
	requireStatus(t, a.apiResponse, 200)
	requireStatus(t, b.apiResponse, 200)
	if a.body != b.body {
		t.Fatalf("bodies %s and %s", a.body, b.body)
	}
}

// failingStore fails every call.
type failingStore struct{}

var errDown = errors.New("down")

func (failingStore) Claim(context.Context, string, string, time.Duration) (string, idempotency.Entry, bool, error) {
	return "", idempotency.Entry{}, false, errors.Join(idempotency.ErrUnavailable, errDown)
}
func (failingStore) Commit(context.Context, string, string, idempotency.Entry, time.Duration) error {
	return errDown
}
func (failingStore) Release(context.Context, string, string) error { return errDown }

func TestIdempotencyStoreFailureFailsClosed(t *testing.T) {
	obs := &counter{}
	ts := startServer(t, withGuard(failingStore{}, obs))
	w := ts.dial(t)
	w.subscribe("c")
	r := ts.postKeyed(t, "/events", `{"name":"e","channel":"c","data":"x"}`, ptr("k"))
	requireCoded(t, r, 503, "service_unavailable")
	if !strings.Contains(r.body, "Idempotency coordination is temporarily unavailable") {
		t.Fatalf("body %s", r.body)
	}
	requireCoded(t, ts.postKeyed(t, "/batch_events", `{"batch":[{"name":"e","channel":"c","data":"x","idempotency_key":"i"}]}`, nil), 503, "service_unavailable")
	if n := ts.countEvents(t, w, "c", "e"); n != 0 {
		t.Fatalf("published %d times with the store down", n)
	}
	if obs.get(idempotency.ObservedUnavailable) != 2 {
		t.Fatalf("unavailable counted %d", obs.get(idempotency.ObservedUnavailable))
	}
}

func TestFailedPublishReleasesItsKey(t *testing.T) {
	apps := testApps()
	apps.apps[0].MaxBackendEventsPerSecond = 1
	ts := startServerStore(t, apps, nil, withGuard(nil, nil))
	w := ts.dial(t)
	w.subscribe("c")
	ev := `{"name":"e","channel":"c","data":"x"}`
	deadline := time.Now().Add(3 * waitFor)
	// Spend the second's budget, then publish with a fresh key until one
	// is refused (429) after claiming its key.
	key := ""
	for i := 0; key == ""; i++ {
		if time.Now().After(deadline) {
			t.Fatal("no publish was refused")
		}
		ts.postKeyed(t, "/events", `{"name":"spend","channel":"d","data":"x"}`, nil)
		k := "k" + strconv.Itoa(i)
		if r := ts.postKeyed(t, "/events", ev, ptr(k)); r.status == 429 {
			key = k
		} else if r.status != 200 {
			t.Fatalf("publish %s: %d %s", k, r.status, r.body)
		}
	}
	n := ts.countAfter(t, w, "c", "e") // the fresh keys that got through
	// The refusal released the key: its retry is published once the
	// budget allows, never answered "in flight".
	for {
		r := ts.postKeyed(t, "/events", ev, ptr(key))
		if r.status == 200 {
			break
		}
		if r.status != 429 || time.Now().After(deadline) {
			t.Fatalf("retry of a refused publish: %d %s, want 429 then 200", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := ts.countAfter(t, w, "c", "e"); got != 1 {
		t.Fatalf("%d broadcasts of the retried key (%d before), want 1", got, n)
	}
}

// countAfter is countEvents for a rate-limited app: the sentinel is
// retried until the budget lets it through.
func (ts *testServer) countAfter(t *testing.T, w *wsClient, channel, event string) int {
	t.Helper()
	eventually(t, "the sentinel published", func() bool {
		return ts.post(t, "/events", `{"name":"end","channel":"`+channel+`","data":"{}"}`).status == 200
	})
	n := 0
	for f := w.next(); f.Event != "end"; f = w.next() {
		if f.Event == event {
			n++
		}
	}
	return n
}

func TestIdempotentBatch(t *testing.T) {
	ts := startServer(t, withGuard(nil, nil))
	w := ts.dial(t)
	w.subscribe("c")
	item := func(data, key string) string {
		s := `{"name":"e","channel":"c","data":"` + data + `"`
		if key != "" {
			s += `,"idempotency_key":"` + key + `"`
		}
		return s + `,"info":"subscription_count"}`
	}
	// The header covers the whole batch.
	batch := `{"batch":[` + item("a", "") + `,` + item("b", "") + `]}`
	first := ts.postKeyed(t, "/batch_events", batch, ptr("B1"))
	requireStatus(t, first.apiResponse, 200)
	again := ts.postKeyed(t, "/batch_events", batch, ptr("B1"))
	if again.status != 200 || again.body != first.body {
		t.Fatalf("batch duplicate %d %s, want %s", again.status, again.body, first.body)
	}
	requireStatus(t, ts.postKeyed(t, "/batch_events", `{"batch":[`+item("a", "")+`]}`, ptr("B1")).apiResponse, 400)
	if n := ts.countEvents(t, w, "c", "e"); n != 2 {
		t.Fatalf("%d broadcasts of a two-item batch sent twice, want 2", n)
	}
	// Body keys cover their item: a duplicate item is skipped ({}), the
	// others published; an item repeating a key within its batch too.
	r := ts.postKeyed(t, "/batch_events", `{"batch":[`+item("p", "i1")+`,`+item("q", "i2")+`]}`, nil)
	requireStatus(t, r.apiResponse, 200)
	r = ts.postKeyed(t, "/batch_events", `{"batch":[`+item("p", "i1")+`,`+item("r", "i3")+`,`+item("r", "i3")+`]}`, nil)
	requireStatus(t, r.apiResponse, 200)
	var out struct {
		Batch []map[string]any `json:"batch"`
	}
	decodeBody(t, r.apiResponse, &out)
	if len(out.Batch) != 3 || len(out.Batch[0]) != 0 || out.Batch[1]["subscription_count"] != float64(1) || len(out.Batch[2]) != 0 {
		t.Fatalf("batch with a duplicate item answered %s", r.body)
	}
	var data []string
	for f := w.next(); ; f = w.next() {
		if f.Event == "e" {
			data = append(data, f.str())
		}
		if len(data) == 3 {
			break
		}
	}
	if strings.Join(data, ",") != "p,q,r" {
		t.Fatalf("broadcast %v, want p,q,r", data)
	}
	if n := ts.countEvents(t, w, "c", "e"); n != 0 {
		t.Fatalf("%d more broadcasts", n)
	}
	// An item key reused with another payload refuses the whole batch.
	r = ts.postKeyed(t, "/batch_events", `{"batch":[`+item("new", "i4")+`,`+item("changed", "i1")+`]}`, nil)
	requireStatus(t, r.apiResponse, 400)
	if !strings.Contains(r.body, "batch[1]: idempotency key was already used with a different payload") {
		t.Fatalf("body %s", r.body)
	}
	// ... and released the claims it made: i4 is still free.
	requireStatus(t, ts.postKeyed(t, "/batch_events", `{"batch":[`+item("new", "i4")+`]}`, nil).apiResponse, 200)
	if n := ts.countEvents(t, w, "c", "e"); n != 1 {
		t.Fatalf("%d broadcasts after the refused batch, want 1", n)
	}
}

func TestChannelIdempotencyKeys(t *testing.T) {
	ts := startServerWith(t, withRecovery, withGuard(nil, nil))
	w := ts.dial(t)
	for _, ch := range []string{"a", "b", "c"} {
		w.subscribe(ch)
	}
	pub := func(channels string) keyedResponse {
		return ts.postKeyed(t, "/events", `{"name":"e","channels":[`+channels+`],"data":"x","extras":{"idempotencyKey":"x1"},"info":"subscription_count","message_id":"m1"}`, nil)
	}
	first := pub(`"a","b"`)
	requireStatus(t, first.apiResponse, 200)
	second := pub(`"a","b","c"`)
	requireStatus(t, second.apiResponse, 200)
	var r1, r2 struct {
		Channels map[string]channelAttrs `json:"channels"`
	}
	decodeBody(t, first.apiResponse, &r1)
	decodeBody(t, second.apiResponse, &r2)
	for _, ch := range []string{"a", "b"} {
		if *r1.Channels[ch].MessageSerial != *r2.Channels[ch].MessageSerial || r2.Channels[ch].AcknowledgementID != "m1" {
			t.Fatalf("channel %s: first %+v, duplicate %+v", ch, r1.Channels[ch], r2.Channels[ch])
		}
	}
	if r2.Channels["c"].MessageSerial == nil || *r2.Channels["c"].SubscriptionCount != 1 {
		t.Fatalf("new channel c: %s", second.body)
	}
	got := map[string]int{}
	requireStatus(t, ts.post(t, "/events", `{"name":"end","channel":"c","data":"{}"}`), 200)
	for f := w.next(); f.Event != "end"; f = w.next() {
		if f.Event == "e" {
			got[f.Channel]++
		}
	}
	if got["a"] != 1 || got["b"] != 1 || got["c"] != 1 {
		t.Fatalf("broadcasts per channel %v, want one each", got)
	}
	// Another payload under the channel key is refused.
	requireStatus(t, ts.post(t, "/events", `{"name":"e","channel":"a","data":"y","extras":{"idempotencyKey":"x1"}}`), 400)
	// Without info or message_id the answer keeps its V1 shape.
	r := ts.post(t, "/events", `{"name":"e","channel":"b","data":"z","extras":{"idempotencyKey":"x2"}}`)
	if r.status != 200 || r.body != "{}" {
		t.Fatalf("channel-keyed publish without info answered %d %s", r.status, r.body)
	}
}

func TestIdempotencyKeyExpires(t *testing.T) {
	apps := testApps()
	apps.apps[0].IdempotencyTTL = time.Second // the app's policy beats the global 120 s
	ts := startServerStore(t, apps, nil, withGuard(nil, nil))
	w := ts.dial(t)
	w.subscribe("c")
	requireStatus(t, ts.postKeyed(t, "/events", `{"name":"e","channel":"c","data":"1"}`, ptr("k")).apiResponse, 200)
	requireStatus(t, ts.postKeyed(t, "/events", `{"name":"e","channel":"c","data":"2"}`, ptr("k")).apiResponse, 400)
	deadline := time.Now().Add(3 * waitFor)
	for {
		r := ts.postKeyed(t, "/events", `{"name":"e","channel":"c","data":"2"}`, ptr("k"))
		if r.status == 200 {
			break
		}
		if r.status != 400 || time.Now().After(deadline) {
			t.Fatalf("reuse after the TTL: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := ts.countEvents(t, w, "c", "e"); n != 2 {
		t.Fatalf("%d broadcasts, want 2 (before and after expiry)", n)
	}
}

func TestIdempotencyDisabled(t *testing.T) {
	apps := testApps()
	apps.apps[0].IdempotencyDisabled = true
	for name, ts := range map[string]*testServer{
		"config": startServer(t, nil),
		"app":    startServerStore(t, apps, nil, withGuard(nil, nil)),
	} {
		t.Run(name, func(t *testing.T) {
			w := ts.dial(t)
			w.subscribe("c")
			for range 2 {
				requireStatus(t, ts.post(t, "/events", `{"name":"e","channel":"c","data":"x","idempotency_key":"k"}`), 200)
				requireStatus(t, ts.postKeyed(t, "/events", `{"name":"e","channel":"c","data":"x"}`, ptr("h")).apiResponse, 200)
			}
			if n := ts.countEvents(t, w, "c", "e"); n != 4 {
				t.Fatalf("%d broadcasts with idempotency off, want 4", n)
			}
		})
	}
}

func TestPlainPublishUnchangedByIdempotency(t *testing.T) {
	on := startServer(t, withGuard(nil, nil))
	off := startServer(t, nil)
	for _, body := range []string{
		`{"name":"e","channel":"c","data":"x"}`,
		`{"name":"e","channels":["c","d"],"data":"x","info":"subscription_count"}`,
	} {
		a, b := on.post(t, "/events", body), off.post(t, "/events", body)
		if a != b {
			t.Fatalf("%s: with idempotency %+v, without %+v", body, a, b)
		}
		batch := `{"batch":[` + body + `]}`
		if !strings.Contains(body, "channels") {
			a, b = on.post(t, "/batch_events", batch), off.post(t, "/batch_events", batch)
			if a != b {
				t.Fatalf("%s: with idempotency %+v, without %+v", batch, a, b)
			}
		}
	}
}
