package testproc

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcStopStart: a listening process is ready once it accepts, Stop
// makes the port refuse, and Start brings it back on the same port.
func TestProcStopStart(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: it plays the server here")
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := &Proc{Name: "listener", Log: filepath.Join(t.TempDir(), "log"),
		Command: func() *exec.Cmd {
			return exec.Command(py, "-c", "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('127.0.0.1',"+strconv.Itoa(port)+"))\ns.listen()\ntime.sleep(60)")
		},
		Ready: func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		},
		StopSignal: syscall.SIGTERM,
	}
	t.Cleanup(p.Stop)
	for round := range 2 {
		if err := p.Start(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		p.Stop()
		if p.Ready() == nil {
			t.Fatalf("round %d: still accepting after Stop", round)
		}
	}
}

// TestProcNotReady: a server that never answers is reported with its
// log's end.
func TestProcNotReady(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(log, []byte("FATAL: cannot bind"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Proc{Name: "mute", Log: log, ReadyWithin: 200 * time.Millisecond,
		Command: func() *exec.Cmd { return exec.Command("sleep", "30") },
		Ready:   func() error { return errors.New("refused") }}
	t.Cleanup(p.Stop)
	err := p.Start()
	if err == nil || !strings.Contains(err.Error(), "mute not ready") || !strings.Contains(err.Error(), "FATAL: cannot bind") {
		t.Fatalf("error %v", err)
	}
}
