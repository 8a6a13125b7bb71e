package loadgen

import (
	"bufio"
	"encoding/xml"
	"net"
	"strings"
	"testing"

	"github.com/sockudo/sockudo-go/bench/internal/hist"
)

func serve(t *testing.T, resp string) *httpConn {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		br := bufio.NewReader(b)
		// Consume the request head and body (Content-Length 2).
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		buf := make([]byte, 2)
		_, _ = br.Read(buf)
		_, _ = b.Write([]byte(resp))
		b.Close()
	}()
	t.Cleanup(func() { a.Close() })
	return &httpConn{c: a, br: bufio.NewReader(a)}
}

const req = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"

func TestRoundTripContentLength(t *testing.T) {
	hc := serve(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	st, keep, _, err := roundTrip(hc, []byte(req))
	if err != nil || st != 200 || !keep {
		t.Fatalf("st %d keep %v err %v", st, keep, err)
	}
}

func TestRoundTripChunkedError(t *testing.T) {
	hc := serve(t, "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nbad s\r\n3\r\nig!\r\n0\r\n\r\n")
	st, keep, msg, err := roundTrip(hc, []byte(req))
	if err != nil || st != 401 || keep || msg != "bad sig!" {
		t.Fatalf("st %d keep %v msg %q err %v", st, keep, msg, err)
	}
}

func TestRoundTripUntilClose(t *testing.T) {
	hc := serve(t, "HTTP/1.0 200 OK\r\n\r\n{}")
	st, keep, _, err := roundTrip(hc, []byte(req))
	if err != nil || st != 200 || keep {
		t.Fatalf("st %d keep %v err %v", st, keep, err)
	}
}

func TestSrcIP(t *testing.T) {
	c := &Config{SrcBase: "127.0.0.254", SrcIPs: 4}
	got := []string{c.srcIP(0).String(), c.srcIP(1).String(), c.srcIP(2).String(), c.srcIP(5).String()}
	want := []string{"127.0.0.254", "127.0.0.255", "127.0.1.0", "127.0.0.255"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v", got)
	}
}

func TestBodies(t *testing.T) {
	p := &publisher{cfg: &Config{Event: "e", Payload: 30, Batch: 2}}
	b := string(p.appendBody(nil, []int{3, 4}, 1763935000123456789))
	want := `{"batch":[{"name":"e","channel":"bench-3","data":"T1763935000123456789|xxxxxxxxx"},{"name":"e","channel":"bench-4","data":"T1763935000123456789|xxxxxxxxx"}]}`
	if b != want {
		t.Fatalf("body\n%s\nwant\n%s", b, want)
	}
}

func TestSVGIsXML(t *testing.T) {
	h := hist.New()
	for i := int64(1); i < 5000; i++ {
		h.Record(i * 10)
	}
	r := &Result{Scenario: "a<b", Config: &Config{Channels: 1}, Percentiles: h.Percentiles()}
	d := xml.NewDecoder(strings.NewReader(percentileSVG(r)))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatal(err)
		}
	}
}
