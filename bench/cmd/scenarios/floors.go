package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/children"
	"github.com/sockudo/sockudo-go/bench/internal/floor"
	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
)

// sameRunFloors are the floors measured in this run for the rows bound by
// this box's system calls (issue 14): the kernel's share of what the
// scenario's pattern costs, next to the single-write floor.
type sameRunFloors struct {
	// httpUs is the responder's CPU per request driven exactly like the
	// named scenario's publisher (0: not measured).
	httpUs map[string]float64
	// pacedUs is the CPU inside write calls per write of 10 sockets every
	// 0.5 ms to loader-like readers (0: not measured).
	pacedUs float64
	lines   []string
}

// httpFloorScenarios are the scenarios whose publisher drives an HTTP floor.
var httpFloorScenarios = []string{"4-many-channels", "5-http-publish", "5-http-batch"}

// measureSameRunFloors runs the floors the selected scenarios need; full
// mode for ≤ 5 s each, smoke mode tiny, only to prove they work.
func measureSameRunFloors(exe, dir string, selected []scenario, smoke bool, rot int) (*sameRunFloors, error) {
	f := &sameRunFloors{httpUs: map[string]float64{}}
	dur := "5s"
	if smoke {
		dur = "500ms"
	}
	for i, s := range selected {
		if !slices.Contains(httpFloorScenarios, s.name) {
			continue
		}
		us, r, err := httpFloor(exe, dir, s, dur, fmt.Sprintf("127.249.%d.2", (rot+i)%250+1))
		if err != nil {
			return f, fmt.Errorf("HTTP floor (%s pattern): %w", s.name, err)
		}
		f.httpUs[s.name] = us
		f.lines = append(f.lines, fmt.Sprintf("HTTP floor, %s pattern: %.2f µs CPU per request of a raw epoll responder driven by that scenario's publisher for %s (%.0f requests/s), %s",
			s.name, us, dur, float64(r.Requests)/max(r.PublishSecs, 1e-9), thisRun))
		if s.name == "4-many-channels" {
			if err := f.pacedWrites(exe, dir, smoke, rot); err != nil {
				return f, err
			}
		}
	}
	return f, nil
}

const thisRun = "this box, this run"

// pacedWrites runs the floor probe in 4-many-channels' pattern.
func (f *sameRunFloors) pacedWrites(exe, dir string, smoke bool, rot int) error {
	fj := filepath.Join(dir, "floor-paced.json")
	args := []string{"floor", "-conns", "10000", "-per-round", "10", "-rounds", "10000", "-interval", "500us",
		"-sink-mode", "loader", "-json", fj, "-src-base", fmt.Sprintf("127.248.%d.2", rot)}
	if smoke {
		args[2], args[6] = "200", "100"
	}
	out, err := runSelf(exe, args, os.Stdout)
	if err != nil {
		return fmt.Errorf("paced write floor: %v\n%s", err, out)
	}
	var fr floor.Result
	b, err := os.ReadFile(fj)
	if err == nil {
		err = json.Unmarshal(b, &fr)
	}
	if err != nil {
		return fmt.Errorf("paced write floor: %w", err)
	}
	if fr.WriteErrors > 0 {
		return fmt.Errorf("paced write floor: %d of %d writes failed", fr.WriteErrors, fr.Writes)
	}
	f.pacedUs = fr.UsInWrite
	f.lines = append(f.lines, fmt.Sprintf("paced write floor: %.2f µs CPU inside the write call per 150 B write, %d sockets every %d µs to loader-like readers (%.2f µs with the writer's pacing wake-ups; %.0f rounds/s), %s",
		fr.UsInWrite, fr.PerRound, fr.IntervalUs, fr.UsPerWrite, float64(fr.Rounds)/fr.WallSecs, thisRun))
	return nil
}

// samePattern is 4-many-channels' floor per delivery: a paced write plus a
// tenth of a paced request (one publish per 10 deliveries); 0 if either
// part is missing.
func (f *sameRunFloors) samePattern() float64 {
	if f == nil || f.pacedUs == 0 || f.httpUs["4-many-channels"] == 0 {
		return 0
	}
	return f.pacedUs + f.httpUs["4-many-channels"]/10
}

// httpFloorArgs is s's publisher with no subscribers for dur: the same
// connections, rate, batch and payload (later flags win).
func httpFloorArgs(s scenario, dur string) []string {
	return append(append([]string{}, s.args...), "-http-only", "-duration", dur)
}

// httpFloor starts the responder, drives it with s's publisher and returns
// the responder's CPU per request.
func httpFloor(exe, dir string, s scenario, dur, srcBase string) (float64, *loadgen.Result, error) {
	cmd := exec.Command(exe, "floor", "-http-responder")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, err
	}
	if err := children.Start(cmd); err != nil {
		return 0, nil, fmt.Errorf("start responder: %w", err)
	}
	defer func() {
		children.Stop(cmd, stdin, 5*time.Second) // closing stdin tells the responder to exit
		children.Done(cmd)
	}()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return 0, nil, fmt.Errorf("responder address: %w", err)
	}
	jsonPath := filepath.Join(dir, "floor-http-"+s.name+".json")
	args := append([]string{"loadgen", "-api", "http://" + strings.TrimSpace(addr),
		"-server-pid", strconv.Itoa(cmd.Process.Pid), "-scenario", "http-floor-" + s.name,
		"-src-base", srcBase, "-json", jsonPath, "-quiet"}, httpFloorArgs(s, dur)...)
	out, lerr := runSelf(exe, args, os.Stdout)
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return 0, nil, fmt.Errorf("loadgen: %v, no result: %v\n%s", lerr, err, tail(out))
	}
	var r loadgen.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, nil, err
	}
	if !r.OK || r.Requests == 0 || r.PubFailed > 0 {
		return 0, &r, fmt.Errorf("%d requests, %d events failed: %v", r.Requests, r.PubFailed, r.PubErrors)
	}
	return float64(r.ServerCPUUs) / float64(r.Requests), &r, nil
}

// vsHTTPFloor is the server's CPU per request against the HTTP floor of
// the same pattern, for the verdict column.
func vsHTTPFloor(r *loadgen.Result, f *sameRunFloors, name string) string {
	fl := f.httpUs[name]
	if fl == 0 || r.Requests == 0 {
		return ""
	}
	us := float64(r.ServerCPUUs) / float64(r.Requests)
	return fmt.Sprintf("%.2f µs/request = %.2f× the HTTP floor %.2f µs", us, us/fl, fl)
}

// vsSamePattern is 4-many-channels' CPU per delivery against the paced
// write floor plus a tenth of the paced HTTP floor.
func vsSamePattern(r *loadgen.Result, f *sameRunFloors) string {
	fl := f.samePattern()
	if fl == 0 || r.Received == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f µs/deliv = %.2f× the same-pattern floor %.2f µs (paced write %.2f + HTTP %.2f/10)",
		r.ServerUsPerDelivery, r.ServerUsPerDelivery/fl, fl, f.pacedUs, f.httpUs["4-many-channels"])
}
