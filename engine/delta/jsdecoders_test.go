package delta

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestOfficialJSDecoders applies this package's deltas with the decoders
// the official JS client ships: @ably/vcdiff-decoder and fossil-delta 2.x.
// Opt-in: SOCKUDO_JS_DECODERS names a node_modules directory holding both
// (npm install @ably/vcdiff-decoder@1.0.6 fossil-delta@2.0.0).
func TestOfficialJSDecoders(t *testing.T) {
	dir := os.Getenv("SOCKUDO_JS_DECODERS")
	if dir == "" {
		t.Skip("SOCKUDO_JS_DECODERS not set: the official JS decoders are not checked")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("SOCKUDO_JS_DECODERS set but node is missing")
	}
	type jsCase struct {
		Algo  string `json:"algo"`
		Base  string `json:"base"`
		Delta string `json:"delta"`
		Want  string `json:"want"`
	}
	var cases []jsCase
	add := func(a Algorithm, base, target []byte) {
		cases = append(cases, jsCase{a.String(), b64(base), b64(AppendDelta(nil, a, base, target)), b64(target)})
	}
	rnd := rand.New(rand.NewSource(5))
	for _, tk := range []*ticker{newTicker(1, "BTC"), verboseTicker()} {
		prev := v2Frame("quote", "c", tk.next(), "")
		for i := 0; i < 300; i++ {
			next := v2Frame("quote", "c", tk.next(), `,"serial":`+strings.Repeat("9", i%7+1))
			if i%10 == 0 {
				next = append(bytes.Repeat([]byte{byte(rnd.Intn(256))}, rnd.Intn(40)), next[rnd.Intn(len(next)):]...)
			}
			if i%25 == 0 {
				next = make([]byte, rnd.Intn(5000))
				rnd.Read(next)
			}
			add(Fossil, prev, next)
			add(Xdelta3, prev, next)
			prev = next
		}
	}
	add(Xdelta3, nil, []byte("no base at all"))
	add(Xdelta3, []byte("base"), nil)
	add(Fossil, []byte("base"), nil)
	in, _ := json.Marshal(cases)
	cmd := exec.Command(node, "testdata/jsdecode.mjs")
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = append(os.Environ(), "SOCKUDO_JS_DECODERS="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "done") {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if fails := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(out)), "done")); fails != "" {
		t.Fatalf("the official JS decoders rejected %d of %d deltas:\n%s", strings.Count(fails, "\n")+1, len(cases), fails)
	}
	t.Logf("%d deltas applied by @ably/vcdiff-decoder and fossil-delta", len(cases))
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
