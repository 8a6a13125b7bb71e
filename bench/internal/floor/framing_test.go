package floor

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func request(body string) string {
	return fmt.Sprintf("POST /apps/bench/events?auth_key=k&auth_signature=s HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"+
		"Content-Type: application/json\r\ncontent-length: %d\r\n\r\n%s", len(body), body)
}

// feedAll feeds the pieces in order and returns the requests completed
// after each.
func feedAll(t *testing.T, pieces ...string) []int {
	t.Helper()
	var f framer
	var got []int
	for _, p := range pieces {
		n, err := f.feed([]byte(p))
		if err != nil {
			t.Fatalf("feed(%q): %v", p, err)
		}
		got = append(got, n)
	}
	return got
}

func TestFramerCountsRequestsHoweverTheBytesArrive(t *testing.T) {
	one := request(`{"name":"e","channel":"bench-1","data":"x"}`)
	two := request(`{"batch":[]}`)
	head := strings.Index(one, "\r\n\r\n")
	f := func(name string, pieces []string, want ...int) {
		t.Helper()
		if got := feedAll(t, pieces...); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: requests per read %v, want %v", name, got, want)
		}
	}
	f("whole", []string{one}, 1)
	f("pipelined", []string{one + two + one}, 3)
	f("split in the request line", []string{one[:10], one[10:]}, 0, 1)
	f("split inside the blank line", []string{one[:head+2], one[head+2:]}, 0, 1)
	f("body split across reads", []string{one[:head+4], one[head+4 : head+10], one[head+10:]}, 0, 0, 1)
	f("second request split after the first", []string{one + two[:7], two[7:] + one[:head], one[head:]}, 1, 1, 1)
	f("no body", []string{"GET /up HTTP/1.1\r\nHost: x\r\n\r\nGET /up HTTP/1.1\r\n\r\n"}, 2)
	var bytewise []string
	want := make([]int, 0, len(one))
	for i := range one {
		bytewise = append(bytewise, one[i:i+1])
		want = append(want, 0)
	}
	want[len(want)-1] = 1
	f("one byte per read", bytewise, want...)
}

func TestFramerRejectsBadRequests(t *testing.T) {
	f := func(name, in string, want error) {
		t.Helper()
		var fr framer
		if _, err := fr.feed([]byte(in)); err != want {
			t.Errorf("%s: err %v, want %v", name, err, want)
		}
	}
	f("non-numeric length", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", errBadLength)
	f("empty length", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", errBadLength)
	f("endless header", "POST / HTTP/1.1\r\nX: "+strings.Repeat("a", maxHead), errHeadTooLong)
}

// TestResponderAnswersEveryPipelinedRequest runs the responder process the
// way the scenarios do (re-exec, address on stdout) and checks it answers
// each request of a pipelined, split stream with the server's 109 B 200.
func TestResponderAnswersEveryPipelinedRequest(t *testing.T) {
	if os.Getenv("FLOOR_TEST_RESPONDER") == "1" {
		os.Exit(responderMain())
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestResponderAnswersEveryPipelinedRequest$")
	cmd.Env = append(os.Environ(), "FLOOR_TEST_RESPONDER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line := make([]byte, 64)
	n, err := stdout.Read(line)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(line[:n])
	addr := strings.TrimSpace(out.String())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %q: %v", addr, err)
	}
	defer c.Close()
	one := request(`{"name":"e","channel":"bench-1","data":"x"}`)
	stream := one + one + one
	for _, piece := range []string{stream[:5], stream[5 : len(one)+20], stream[len(one)+20:]} {
		if _, err := c.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	resp := httpResponse(time.Now())
	if len(resp) != 109 {
		t.Errorf("response is %d B, the server's is 109", len(resp))
	}
	want := 3 * len(resp)
	got := make([]byte, 0, want)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	for len(got) < want {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(got), want, err)
		}
		got = append(got, buf[:n]...)
	}
	const tail = "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	for i := 0; i < 3; i++ {
		r := got[i*len(resp) : (i+1)*len(resp)]
		if !bytes.HasPrefix(r, []byte("HTTP/1.1 200 OK\r\nDate: ")) || !bytes.HasSuffix(r, []byte(tail)) {
			t.Errorf("response %d: %q", i, r)
		}
	}
}
