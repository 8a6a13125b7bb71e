package delta

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseSubSetting(t *testing.T) {
	cases := map[string]SubSetting{
		``:                 {},
		`null`:             {},
		`7`:                {},
		`"fossil"`:         {Given: true, Enabled: true, Algorithm: Fossil, HasAlgorithm: true},
		`"FOSSIL"`:         {Given: true, Enabled: true, Algorithm: Fossil, HasAlgorithm: true},
		`"xdelta3"`:        {Given: true, Enabled: true, Algorithm: Xdelta3, HasAlgorithm: true},
		`"vcdiff"`:         {Given: true, Enabled: true, Algorithm: Xdelta3, HasAlgorithm: true},
		`"disabled"`:       {Given: true},
		`"false"`:          {Given: true},
		`"None"`:           {Given: true},
		`"anything"`:       {Given: true, Enabled: true},
		`true`:             {Given: true, Enabled: true},
		`false`:            {Given: true},
		`{"enabled":true}`: {Given: true, Enabled: true},
		`{"enabled":false,"algorithm":"xdelta3"}`: {Given: true, Algorithm: Xdelta3, HasAlgorithm: true},
		`{"enabled":true,"algorithm":"Vcdiff"}`:   {Given: true, Enabled: true, Algorithm: Xdelta3, HasAlgorithm: true},
		`{"algorithm":"fossil"}`:                  {Algorithm: Fossil, HasAlgorithm: true},
		`{"enabled":"yes"}`:                       {},
	}
	for in, want := range cases {
		got, err := ParseSubSetting([]byte(in))
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := ParseSubSetting([]byte(`{"enabled":`)); err == nil {
		t.Error("malformed JSON accepted")
	}
}

func TestChannelSettings(t *testing.T) {
	var m map[string]ChannelSetting
	err := json.Unmarshal([]byte(`{
		"market-btc": "xdelta3",
		"market-*": {"algorithm":"Fossil","conflation_key":"symbol","max_messages_per_key":5,"max_conflation_keys":500},
		"*-quiet": "disabled",
		"news-*-eu": {"enabled":false},
		"chat-*": "inherit"
	}`), &m)
	if err != nil {
		t.Fatal(err)
	}
	cs := NewChannelSettings(m)
	cfg := DefaultConfig()
	cfg.Algorithm = "xdelta3"
	check := func(ch string, wantFound, wantEnabled bool, wantAlgo Algorithm, wantKey string) {
		t.Helper()
		s, found := cs.Lookup(ch)
		opts, algo, enabled := cfg.ChannelOptions(s, found)
		if found != wantFound || enabled != wantEnabled || algo != wantAlgo || opts.ConflationKeyPath != wantKey {
			t.Errorf("%s: found %v enabled %v algo %s key %q", ch, found, enabled, algo, opts.ConflationKeyPath)
		}
	}
	check("market-btc", true, true, Xdelta3, "")
	check("market-eth", true, true, Fossil, "symbol")
	check("feed-quiet", true, false, Xdelta3, "")
	check("news-x-eu", true, false, Xdelta3, "")
	check("chat-1", true, true, Xdelta3, "")
	check("other", false, true, Xdelta3, "")
	s, _ := cs.Lookup("market-eth")
	if opts, _, _ := cfg.ChannelOptions(s, true); opts.MaxMessagesPerKey != 5 || opts.MaxConflationKeys != 100 {
		t.Errorf("per-key bounds %+v: max_conflation_keys is capped by the global bound", opts)
	}
	for _, bad := range []string{`"Fossil"`, `"sometimes"`, `{"algorithm":"fossil"}`, `{"max_messages_per_key":0}`, `[1]`} {
		var s ChannelSetting
		if json.Unmarshal([]byte(bad), &s) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, ok := (*ChannelSettings)(nil).Lookup("x"); ok {
		t.Error("nil settings found something")
	}
}

func TestConfig(t *testing.T) {
	c := DefaultConfig()
	if !c.Enabled || c.Algorithm != "fossil" || c.FullMessageInterval != 10 || c.MinMessageSize != 100 ||
		c.MaxStateAgeSecs != 300 || c.MaxChannelStatesPerSocket != 100 || c.MaxConflationStatesPerChannel != 100 ||
		c.ConflationKeyPath != "" || c.OmitDeltaAlgorithm {
		t.Fatalf("defaults %+v", c)
	}
	// a config.json section decodes onto the defaults
	if err := json.Unmarshal([]byte(`{"algorithm":"xdelta3","conflation_key_path":"data.symbol","omit_delta_algorithm":true}`), &c); err != nil {
		t.Fatal(err)
	}
	if ConfigAlgorithm(c.Algorithm) != Xdelta3 || c.FullMessageInterval != 10 || !c.OmitDeltaAlgorithm {
		t.Fatalf("decoded %+v", c)
	}
	if o := c.Options(); o.MaxStateAge != 300*time.Second || o.ConflationKeyPath != "data.symbol" || !o.OmitAlgorithm {
		t.Fatalf("options %+v", o)
	}
	for _, s := range []string{"Xdelta3", "vcdiff", "", "fossil"} {
		if ConfigAlgorithm(s) != Fossil {
			t.Errorf("%q selects %s", s, ConfigAlgorithm(s))
		}
	}
}

func TestAllowed(t *testing.T) {
	on := SubSetting{Given: true, Enabled: true}
	off := SubSetting{Given: true}
	cases := []struct {
		ch                     string
		v2, json, chOn, sockOn bool
		sub                    SubSetting
		want                   bool
	}{
		{"c", true, true, true, true, SubSetting{}, true},
		{"c", true, true, true, false, SubSetting{}, false},
		{"c", true, true, true, false, on, true},
		{"c", true, true, true, true, off, false},
		{"c", false, true, true, true, on, false},
		{"c", true, false, true, true, on, false},
		{"c", true, true, false, true, on, false},
		{"private-encrypted-x", true, true, true, true, on, false},
	}
	for _, c := range cases {
		if got := Allowed(c.ch, c.v2, c.json, c.chOn, c.sockOn, c.sub); got != c.want {
			t.Errorf("%+v: %v", c, got)
		}
	}
	if Pick(SubSetting{HasAlgorithm: true, Algorithm: Xdelta3}, Fossil) != Xdelta3 || Pick(SubSetting{}, Xdelta3) != Xdelta3 {
		t.Error("Pick")
	}
}

func TestConflationKey(t *testing.T) {
	frame := v2Frame("e", "c", `{"symbol":"AAPL","n":1.50,"ok":true,"nil":null,"o":{"a": [1, 2]},"deep":{"x":{"y":"z"}}}`, `,"asset":"BTC","num":42`)
	cases := map[string]string{
		"asset":         "BTC",
		"num":           "42",
		"symbol":        "AAPL", // single segment retried inside data
		"n":             "1.50",
		"ok":            "true",
		"nil":           "null",
		"o":             `{"a":[1,2]}`,
		"data.symbol":   "AAPL", // through the data string
		"data.deep.x":   `{"y":"z"}`,
		"data.deep.x.y": "z",
		"missing":       "",
		"data.none":     "",
		"event":         "e",
		"":              "",
	}
	for path, want := range cases {
		if got := ConflationKey(frame, path); got != want {
			t.Errorf("%q: %q, want %q", path, got, want)
		}
	}
	obj := []byte(`{"event":"e","channel":"c","data":{"symbol":"X"}}`)
	if got := ConflationKey(obj, "symbol"); got != "X" {
		t.Errorf("object data: %q", got)
	}
	if got := ConflationKey([]byte(`not json`), "a"); got != "" {
		t.Errorf("bad frame: %q", got)
	}
}

func TestAppendEnabled(t *testing.T) {
	got := string(AppendEnabled(nil, Xdelta3, []byte(`,"message_id":"m"`)))
	want := `{"event":"sockudo:delta_compression_enabled","data":{"enabled":true,"algorithm":"xdelta3"},"message_id":"m"}`
	if got != want {
		t.Fatalf("%s\nwant %s", got, want)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(AppendEnabled(nil, Fossil, nil)), &v); err != nil {
		t.Fatal(err)
	}
}
