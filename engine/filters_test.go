package engine

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/engine/filter/jmes"
	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
)

// filterEngine runs an engine with recovery on and filters configured as
// cfg changes Sockudo's defaults with tag filtering on and JMESPath.
func filterEngine(t *testing.T, opts Options, cfg func(*filter.Config)) *Engine {
	t.Helper()
	fc := filter.DefaultConfig()
	fc.TagFiltering = true
	fc.Expressions = jmes.Compiler{}
	if cfg != nil {
		cfg(&fc)
	}
	opts.V2.Filters = fc
	e, _ := recoveryEngine(t, recovery.Options{}, opts)
	return e
}

// subscribeWith subscribes a V2 client with extra members of the
// subscribe's data (raw JSON after the channel) and returns the answer.
func (cl *client) subscribeWith(channel, extra string) v2msg {
	cl.t.Helper()
	data := `{"channel":"` + channel + `"`
	if extra != "" {
		data += "," + extra
	}
	cl.send(`{"event":"sockudo:subscribe","data":` + data + `}}`)
	m, ok := cl.rawNext()
	if !ok {
		cl.t.Fatalf("no answer to subscribe %s %s", channel, extra)
	}
	return m
}

// events returns the event names of the frames c receives before the
// "done" event on channel "sync": a publish there, made after the
// others, passes through the same worker after them, so what has not
// arrived by then was not sent.
func (cl *client) eventsUntilSync() []string {
	cl.t.Helper()
	var got []string
	for {
		m, ok := cl.rawNext()
		if !ok {
			cl.t.Fatalf("no sync event; got %v", got)
		}
		if m.Channel == "sync" && m.Event == "done" {
			return got
		}
		got = append(got, m.Event)
	}
}

func publishTagged(t *testing.T, e *Engine, channel, event, data, tags string) {
	t.Helper()
	app, _ := e.opts.Apps.AppByKey("key")
	ev := &Event{Name: event, Data: data, Channels: []string{channel}}
	if tags != "" {
		ev.V2 = &V2Fields{Tags: []byte(tags)}
	}
	if err := e.Publish(t.Context(), app, ev); err != nil {
		t.Fatal(err)
	}
}

// filterMessages are published by the operator tests: e1..e4 with these
// tags (e3 has none).
var filterMessages = []struct{ event, tags string }{
	{"e1", `{"name":"alpha","price":"10","region":"eu","tier":"gold"}`},
	{"e2", `{"name":"beta","price":"20.5","region":"us"}`},
	{"e3", ""},
	{"e4", `{"name":"gamma","price":"abc","region":"ap","tier":"silver"}`},
}

// TestV2FilterOperators subscribes one V2 connection per operator, in
// the shapes the official client sends (tags_filter for a bare tag
// tree, filter for compound ones), publishes four tagged messages and
// checks that each connection received exactly the ones its filter
// accepts; an unfiltered V2 and a V1 connection (which ignores the
// fields) get all four.
func TestV2FilterOperators(t *testing.T) {
	e := filterEngine(t, Options{}, nil)
	cases := []struct{ sub, want string }{
		{`"tags_filter":{"key":"region","cmp":"eq","val":"eu"}`, "e1"},
		{`"tags_filter":{"key":"region","cmp":"neq","val":"eu"}`, "e2 e3 e4"},
		{`"tags_filter":{"key":"region","cmp":"in","vals":["us","ap"]}`, "e2 e4"},
		{`"tags_filter":{"key":"region","cmp":"nin","vals":["us","ap"]}`, "e1 e3"},
		{`"tags_filter":{"key":"tier","cmp":"ex"}`, "e1 e4"},
		{`"tags_filter":{"key":"tier","cmp":"nex"}`, "e2 e3"},
		{`"tags_filter":{"key":"name","cmp":"sw","val":"al"}`, "e1"},
		{`"tags_filter":{"key":"name","cmp":"ew","val":"ta"}`, "e2"},
		{`"tags_filter":{"key":"name","cmp":"ct","val":"amm"}`, "e4"},
		{`"tags_filter":{"key":"price","cmp":"gt","val":15}`, "e2"},
		{`"tags_filter":{"key":"price","cmp":"gte","val":"10"}`, "e1 e2"},
		{`"tags_filter":{"key":"price","cmp":"lt","val":"20.5"}`, "e1"},
		{`"tags_filter":{"key":"price","cmp":"lte","val":"20.5"}`, "e1 e2"},
		{`"tags_filter":{"op":"and","nodes":[{"key":"region","cmp":"eq","val":"eu"},{"key":"tier","cmp":"eq","val":"gold"}]}`, "e1"},
		{`"tags_filter":{"op":"or","nodes":[{"key":"region","cmp":"eq","val":"us"},{"key":"tier","cmp":"ex"}]}`, "e1 e2 e4"},
		{`"tags_filter":{"op":"or","nodes":[{"key":"region","cmp":"eq","val":"us"},{"key":"region","cmp":"eq","val":"ap"}]}`, "e2 e4"},
		{`"tags_filter":{"op":"not","nodes":[{"key":"region","cmp":"ex"}]}`, "e3"},
		{`"filter":{"events":["e2","e4"]}`, "e2 e4"},
		{`"filter":{"events":["e1","e2"],"tags":{"key":"region","cmp":"eq","val":"us"}}`, "e2"},
		{`"filter":{"key":"region","cmp":"eq","val":"eu"},"tags_filter":{"key":"region","cmp":"eq","val":"us"}`, "e1"},
		{`"filter":{"expression":"tags.region == 'eu' || tags.region == 'ap'"}`, "e1 e4"},
		{`"filter":{"expression":{"language":"jmespath","source":"event == 'e3'"}}`, "e3"},
		{`"filter":{"events":["e1","e2","e3"],"expression":"tags.tier == null"}`, "e2 e3"},
		{`"filter":null`, "e1 e2 e3 e4"},
		{``, "e1 e2 e3 e4"},
	}
	clients := make([]*client, len(cases))
	for i, c := range cases {
		cl := connectV2(t, e, "")
		if m := cl.subscribeWith("orders", c.sub); m.Event != "sockudo_internal:subscription_succeeded" {
			t.Fatalf("%s: %s", c.sub, m.Raw)
		}
		cl.subscribeV2("sync")
		clients[i] = cl
	}
	v1 := connect(t, e, "key")
	v1.subscribe("orders", map[string]any{"tags_filter": map[string]any{"key": "region", "cmp": "eq", "val": "eu"}})
	v1.mustSubscribe("sync")
	for _, m := range filterMessages {
		publishTagged(t, e, "orders", m.event, "x", m.tags)
	}
	publish(t, e, "sync", "done", "", "")
	for i, c := range cases {
		if got := strings.Join(clients[i].eventsUntilSync(), " "); got != c.want {
			t.Errorf("%s\n got %q\nwant %q", c.sub, got, c.want)
		}
	}
	for _, ev := range []string{"e1", "e2", "e3", "e4"} {
		if m := v1.expectV2(ev); m.Tags != nil {
			t.Fatalf("V1 frame with tags: %+v", m)
		}
	}
	if s := e.NodeSnapshot(); s.FilterSuppressed == 0 {
		t.Fatalf("suppressed deliveries not counted: %+v", s)
	}
}

// TestV2FilterRefused: an invalid filter or one over a limit answers
// sockudo:error 4000 with Sockudo's text and creates no subscription.
func TestV2FilterRefused(t *testing.T) {
	e := filterEngine(t, Options{}, func(c *filter.Config) { c.MaxEventsPerFilter = 3 })
	deep := `{"key":"a","cmp":"ex"}`
	for range 16 {
		deep = `{"op":"not","nodes":[` + deep + `]}`
	}
	many := make([]string, 129)
	for i := range many {
		many[i] = `"v` + strconv.Itoa(i) + `"`
	}
	cases := []struct{ sub, msg string }{
		{`"tags_filter":{"key":"region","cmp":"like","val":"e"}`, "Invalid message format: Invalid tags filter: unknown comparison operator: like"},
		{`"tags_filter":{"op":"and","nodes":[]}`, "Invalid message format: Invalid tags filter"},
		{`"tags_filter":{"key":"region","cmp":"eq"}`, "Invalid message format: Invalid tags filter"},
		{`"tags_filter":[1]`, "Invalid message format: Invalid tags filter shape"},
		{`"filter":{"events":"e1"}`, "Invalid message format: filter.events must be an array of non-empty strings"},
		{`"filter":{"events":["a",""]}`, "Invalid message format: filter.events must contain only non-empty strings"},
		{`"filter":{"events":["a","b","c","d"]}`, "Invalid message format: "},
		{`"filter":{"events":["` + strings.Repeat("e", 201) + `"]}`, "Invalid message format: "},
		{`"tags_filter":` + deep, "Invalid message format: Invalid subscription filter:"},
		{`"tags_filter":{"key":"k","cmp":"in","vals":[` + strings.Join(many, ",") + `]}`, "Invalid message format: Invalid subscription filter:"},
		{`"tags_filter":{"key":"` + strings.Repeat("k", 257) + `","cmp":"ex"}`, "Invalid message format: Invalid subscription filter:"},
		{`"filter":{"expression":"a == '` + strings.Repeat("x", 4096) + `'"}`, "Invalid message format: Invalid subscription filter: JMESPath expression exceeds the byte limit of 4096"},
		{`"filter":{"expression":"a =="}`, "Invalid message format: Invalid subscription filter: invalid JMESPath expression"},
		{`"filter":{"expression":{"language":"sql","source":"1"}}`, "Invalid message format: "},
	}
	cl := connectV2(t, e, "")
	cl.subscribeV2("sync")
	for _, c := range cases {
		m := cl.subscribeWith("orders", c.sub)
		var d struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if m.Event != "sockudo:error" || json.Unmarshal(m.Data, &d) != nil || d.Code != 4000 || !strings.HasPrefix(d.Message, c.msg) {
			t.Errorf("%.80s: got %.300s", c.sub, m.Raw)
		}
	}
	publish(t, e, "orders", "e1", "x", "")
	publish(t, e, "sync", "done", "", "")
	if got := cl.eventsUntilSync(); len(got) != 0 {
		t.Fatalf("refused subscription delivered %v", got)
	}
	if occ := e.NodeSnapshot(); occ.FilterRejected != uint64(len(cases)) {
		t.Fatalf("rejections counted %d, want %d", occ.FilterRejected, len(cases))
	}
	// Within the configured limit, the same shape is accepted.
	if m := cl.subscribeWith("orders", `"filter":{"events":["a","b","c"]}`); m.Event != "sockudo_internal:subscription_succeeded" {
		t.Fatalf("3 events: %s", m.Raw)
	}
}

// TestV2FilterConfigSwitches: with tag_filtering off (Sockudo's default)
// a tag tree is validated but not applied, while events still are; with
// event_name_filtering off the events list is dropped.
func TestV2FilterConfigSwitches(t *testing.T) {
	e := filterEngine(t, Options{}, func(c *filter.Config) { c.TagFiltering = false })
	tagged := connectV2(t, e, "")
	tagged.subscribeWith("orders", `"tags_filter":{"key":"region","cmp":"eq","val":"eu"}`)
	tagged.subscribeV2("sync")
	evs := connectV2(t, e, "")
	evs.subscribeWith("orders", `"filter":{"events":["e2"],"tags":{"key":"region","cmp":"eq","val":"eu"}}`)
	evs.subscribeV2("sync")
	if m := evs.subscribeWith("other", `"tags_filter":{"key":"region","cmp":"bad"}`); m.Event != "sockudo:error" {
		t.Fatalf("tag tree not validated with tag filtering off: %s", m.Raw)
	}
	for _, m := range filterMessages {
		publishTagged(t, e, "orders", m.event, "x", m.tags)
	}
	publish(t, e, "sync", "done", "", "")
	if got := strings.Join(tagged.eventsUntilSync(), " "); got != "e1 e2 e3 e4" {
		t.Fatalf("tag filter applied with tag filtering off: %s", got)
	}
	if got := strings.Join(evs.eventsUntilSync(), " "); got != "e2" {
		t.Fatalf("events with tag filtering off: %s", got)
	}

	e2 := filterEngine(t, Options{}, func(c *filter.Config) { c.EventNameFiltering = false })
	cl := connectV2(t, e2, "")
	cl.subscribeWith("orders", `"filter":{"events":["e2"]}`)
	cl.subscribeV2("sync")
	for _, m := range filterMessages {
		publishTagged(t, e2, "orders", m.event, "x", m.tags)
	}
	publish(t, e2, "sync", "done", "", "")
	if got := strings.Join(cl.eventsUntilSync(), " "); got != "e1 e2 e3 e4" {
		t.Fatalf("events applied with event_name_filtering off: %s", got)
	}
}

// TestV2TagEmission: with tag emission off V2 frames carry no tags, and
// filters still read them; with it on they carry them.
func TestV2TagEmission(t *testing.T) {
	for _, strip := range []bool{true, false} {
		e := filterEngine(t, Options{V2: V2Options{StripTags: strip}}, nil)
		f := connectV2(t, e, "")
		f.subscribeWith("orders", `"tags_filter":{"key":"region","cmp":"eq","val":"us"}`)
		plain := connectV2(t, e, "")
		plain.subscribeV2("orders")
		publishTagged(t, e, "orders", "e1", "x", filterMessages[0].tags)
		publishTagged(t, e, "orders", "e2", "x", filterMessages[1].tags)
		m := f.expectV2("e2")
		p1, p2 := plain.expectV2("e1"), plain.expectV2("e2")
		for _, m := range []v2msg{m, p1, p2} {
			if strip == (len(m.Tags) > 0) || m.Serial == nil {
				t.Fatalf("strip=%v: %s", strip, m.Raw)
			}
		}
	}
}

// TestV2FilterExpressionOnClientEvent: a JMESPath expression reads the
// object a client event carried (HTTP publishes carry a string, so the
// same expression does not match them).
func TestV2FilterExpressionOnClientEvent(t *testing.T) {
	e := filterEngine(t, Options{}, nil)
	sender := connectV2(t, e, "false")
	sender.send(`{"event":"sockudo:subscribe","data":{"channel":"private-orders","auth":"key:` +
		protocol.SignChannel("secret", sender.id, "private-orders", "") + `"}}`)
	sender.expectV2("sockudo_internal:subscription_succeeded")
	cl := connectV2(t, e, "")
	cl.send(`{"event":"sockudo:subscribe","data":{"channel":"private-orders","auth":"key:` +
		protocol.SignChannel("secret", cl.id, "private-orders", "") + `","filter":{"expression":"data.total >= ` + "`100`" + `"}}}`)
	cl.expectV2("sockudo_internal:subscription_succeeded")
	cl.subscribeV2("sync")
	sender.send(`{"event":"client-order","channel":"private-orders","data":{"total":50}}`)
	sender.send(`{"event":"client-order","channel":"private-orders","data":{"total":150}}`)
	sender.send(`{"event":"client-order","channel":"private-orders","data":"{\"total\":500}"}`)
	waitFor(t, "three client events relayed", func() bool { return e.NodeSnapshot().FilterSuppressed >= 2 })
	publishTagged(t, e, "private-orders", "http", `{"total":900}`, "")
	publish(t, e, "sync", "done", "", "")
	got := cl.eventsUntilSync()
	if len(got) != 1 || got[0] != "client-order" {
		t.Fatalf("expression over client event data: %v", got)
	}
}

// TestV2FilterResume: a resumed connection gets only the missed
// messages its filter accepts, and a suppressed message leaves no gap:
// the next resume from its last delivered serial replays nothing twice.
func TestV2FilterResume(t *testing.T) {
	e := filterEngine(t, Options{}, nil)
	a := connectV2(t, e, "")
	a.subscribeWith("orders", `"tags_filter":{"key":"region","cmp":"eq","val":"eu"}`)
	publishTagged(t, e, "orders", "e1", "x", `{"region":"eu"}`)
	first := a.expectV2("e1")
	stream, serial := *first.StreamID, *first.Serial
	// Missed while a is away: us, eu, us, eu.
	b := connectV2(t, e, "")
	b.subscribeWith("orders", `"tags_filter":{"key":"region","cmp":"eq","val":"eu"}`)
	for i, r := range []string{"us", "eu", "us", "eu"} {
		publishTagged(t, e, "orders", "m"+string(rune('1'+i)), "x", `{"region":"`+r+`"}`)
	}
	b.expectV2("m2")
	b.expectV2("m4")
	data, _ := json.Marshal(`{"channel_positions":{"orders":{"stream_id":"` + stream + `","serial":` + jsonUint(serial) + `}}}`)
	events, failed, ok := b.resumeFrames(string(data))
	if len(failed) != 0 {
		t.Fatalf("resume failed: %+v", failed)
	}
	var names []string
	for _, m := range events {
		names = append(names, m.Event)
	}
	if strings.Join(names, " ") != "" {
		t.Fatalf("resume of a connection that got everything live replayed %v (%s)", names, ok.Raw)
	}
	// A fresh connection subscribing with the filter, then resuming from
	// the first position, gets the two eu messages only.
	c := connectV2(t, e, "")
	c.subscribeWith("orders", `"tags_filter":{"key":"region","cmp":"eq","val":"eu"}`)
	c.subscribeV2("sync")
	// Publish a suppressed message first: it must not make the resume
	// look like it skipped anything.
	publishTagged(t, e, "orders", "m5", "x", `{"region":"us"}`)
	events, failed, _ = c.resumeFrames(string(data))
	names = names[:0]
	for _, m := range events {
		names = append(names, m.Event)
	}
	if len(failed) != 0 || strings.Join(names, " ") != "m2 m4" {
		t.Fatalf("filtered resume replayed %v, failed %+v", names, failed)
	}
	publishTagged(t, e, "orders", "m6", "x", `{"region":"eu"}`)
	publish(t, e, "sync", "done", "", "")
	if got := c.eventsUntilSync(); strings.Join(got, " ") != "m6" {
		t.Fatalf("live after filtered resume: %v", got)
	}
}

func jsonUint(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDecodeTags: the publish's tags as filters read them, escapes
// included; anything but a flat object of strings reads as no tags.
func TestDecodeTags(t *testing.T) {
	got := decodeTags([]byte(` { "region" : "eu" , "q\"k":"a\\b\u00e9", "e":"" } `))
	want := map[string]string{"region": "eu", `q"k`: `a\bé`, "e": ""}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%q: got %q want %q (all %q)", k, got[k], v, got)
		}
	}
	if m := decodeTags([]byte(`{}`)); m == nil || len(m) != 0 {
		t.Fatalf("empty object: %v", m)
	}
	for _, bad := range []string{`[]`, `{"a":1}`, `{"a":"b"`, `{"a" "b"}`, `{"a":"b",}`, `{"a":"b\"}`, `"x"`} {
		if m := decodeTags([]byte(bad)); m != nil {
			t.Errorf("%s: %q", bad, m)
		}
	}
}

// TestWithoutTags: a stored V2 frame loses exactly its tags member, even
// when the data or a tag value holds look-alike text.
func TestWithoutTags(t *testing.T) {
	in := `{"event":"e","channel":"c","data":"{\"tags\":{\"x\":1}}","tags":{"a":"}{\"","b":"c"},"message_id":"m","serial":3}`
	out, ok := withoutTags([]byte(in))
	if !ok || string(out) != `{"event":"e","channel":"c","data":"{\"tags\":{\"x\":1}}","message_id":"m","serial":3}` {
		t.Fatalf("got %s %v", out, ok)
	}
	if _, ok := withoutTags([]byte(`{"event":"e","data":"x"}`)); ok {
		t.Fatal("frame without tags changed")
	}
}
