package loadgen

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/hist"
	"github.com/sockudo/sockudo-go/bench/internal/wire"
)

// serverFrame is an unmasked server text frame carrying a stamped event.
func serverFrame(channel string, stamp int64) []byte {
	data := wire.AppendPayload(nil, stamp, 40)
	pl := `{"event":"bench-event","channel":"` + channel + `","data":"` + string(data) + `"}`
	f := []byte{0x81, byte(len(pl))}
	return append(f, pl...)
}

// TestReaderCountsAlsoChannelApart: frames of -also-channel are counted in
// the total and in their own counter and histogram; frames of a channel
// whose name only starts with the same text are not.
func TestReaderCountsAlsoChannelApart(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	r := &reader{hist: hist.New(), alsoHist: hist.New(), alsoNeedle: []byte(`"bench-big"`), closeCodes: map[int]int{}}
	c := &conn{fd: fds[0], timed: true}
	now := time.Now().UnixNano()
	var b []byte
	b = append(b, serverFrame("bench-big", now-int64(500*time.Millisecond))...)
	b = append(b, serverFrame("bench-7", now-int64(time.Millisecond))...)
	b = append(b, serverFrame("bench-bigger", now-int64(time.Millisecond))...)
	if _, err := syscall.Write(fds[1], b); err != nil {
		t.Fatal(err)
	}
	r.service(c, make([]byte, 64<<10))
	if got := r.recv.Load(); got != 3 {
		t.Fatalf("received %d, want 3", got)
	}
	if got := r.alsoRecv.Load(); got != 1 {
		t.Fatalf("also-channel received %d, want 1", got)
	}
	if r.alsoHist.Count() != 1 || r.hist.Count() != 2 {
		t.Fatalf("histograms: also %d, own %d; want 1 and 2", r.alsoHist.Count(), r.hist.Count())
	}
	if us := r.alsoHist.Max(); us < 500_000 {
		t.Fatalf("also-channel latency %d µs, want ≥ 500 ms", us)
	}
	if us := r.hist.Max(); us >= 500_000 {
		t.Fatalf("own-channel latency %d µs took the also-channel's", us)
	}
}

// frames replays server frames to awaitAlso's reader.
func frames(t *testing.T, payloads ...string) func() (byte, []byte, error) {
	t.Helper()
	return func() (byte, []byte, error) {
		if len(payloads) == 0 {
			return 0, nil, errors.New("no more frames")
		}
		p := payloads[0]
		payloads = payloads[1:]
		return wire.OpText, []byte(p), nil
	}
}

func succeeded(ch string) string {
	return `{"event":"pusher_internal:subscription_succeeded","channel":"` + ch + `","data":"{}"}`
}

func TestAwaitAlsoNeedsBothConfirmations(t *testing.T) {
	g := &localGroup{cfg: &Config{AlsoChannel: "bench-big"}}
	a, b := net.Pipe()
	defer a.Close()
	go func() { _, _ = io.Copy(io.Discard, b) }()
	// Either order; an unrelated event in between is skipped.
	if err := g.awaitAlso(a, nil, "bench-3", frames(t, succeeded("bench-big"), `{"event":"pusher:ping"}`, succeeded("bench-3"))); err != nil {
		t.Fatalf("both confirmed: %v", err)
	}
	// Only the own channel confirmed: the reader runs dry, which is an error.
	if err := g.awaitAlso(a, nil, "bench-3", frames(t, succeeded("bench-3"))); err == nil {
		t.Fatal("one confirmation accepted as two")
	}
	// A subscription error names itself.
	err := g.awaitAlso(a, nil, "bench-3", frames(t, `{"event":"pusher:subscription_error","channel":"bench-big","data":{"status":403}}`))
	if err == nil || !strings.Contains(err.Error(), "subscription_error") {
		t.Fatalf("subscription_error: %v", err)
	}
}

func TestSlabGrowthAndSocketSlabs(t *testing.T) {
	a := map[string]slabEntry{"TCP": {10, 2368}, "TCPv6": {0, 2496}, "dentry": {100, 192}, "kmalloc-64": {50, 64}}
	b := map[string]slabEntry{"TCP": {20, 2368}, "TCPv6": {10, 2496}, "dentry": {90, 192}, "kmalloc-64": {1074, 64}, "filp": {20, 192}}
	// kmalloc-64 grew 64 KiB, TCPv6 24 KiB, TCP 23 KiB; dentry shrank.
	g := slabGrowth(a, b, 2)
	if len(g) != 2 || g[0].Cache != "kmalloc-64" || g[0].DeltaKiB != 64 || g[1].Cache != "TCPv6" {
		t.Fatalf("top 2 by growth: %+v", g)
	}
	for _, d := range slabGrowth(a, b, 10) {
		if d.Cache == "dentry" {
			t.Fatalf("a shrinking cache is listed as growth: %+v", d)
		}
	}
	if got, want := socketSlabBytes(a, b), int64(10*2368+10*2496+20*192); got != want {
		t.Fatalf("socket slab bytes %d, want %d", got, want)
	}
}
