package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/children"
)

// listenPort listens on 127.0.0.1 on a random port in 20000–31999 (below
// the ephemeral range, so no client socket can hold it).
func listenPort() (net.Listener, int, error) {
	for tries := 0; tries < 200; tries++ {
		p := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			return ln, p, nil
		}
	}
	return nil, 0, fmt.Errorf("no free port in 20000–31999")
}

// server is the started server process.
type server struct {
	cmd    *exec.Cmd
	exited chan error
	log    *os.File
}

func startServer(bin, cfgPath, logPath string, pprof bool) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := []string{"--config", cfgPath}
	if pprof {
		args = append([]string{"--pprof"}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := children.Start(cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, exited: make(chan error, 1), log: logf}
	go func() { s.exited <- cmd.Wait() }()
	return s, nil
}

// alive reports whether the server is still running.
func (s *server) alive() error {
	select {
	case err := <-s.exited:
		s.exited <- err
		return fmt.Errorf("server exited: %v (log %s)", err, s.log.Name())
	default:
		return nil
	}
}

// stop sends SIGTERM and SIGKILL after 5 s.
func (s *server) stop() {
	defer s.log.Close()
	defer children.Done(s.cmd)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.exited
		s.exited <- err
	}
}
