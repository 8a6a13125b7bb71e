// Package ports picks the ports a bench command's servers listen on, and
// waits until a started server answers on its port.
package ports

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// Free picks a port below the ephemeral range (32768–60999 here), so no
// loader socket from a previous scenario or run can hold it, that binds
// on every address at the time of the call and is not in used (nil: no
// exclusions; a command starting several servers before any binds
// passes the ones it handed out).
func Free(used map[int]bool) (int, error) {
	for tries := 0; tries < 200; tries++ {
		p := 20000 + rand.IntN(12000)
		if used[p] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port in 20000–31999")
}

// WaitHTTP polls url with cl until the server (named name in the
// timeout error) answers 200, for at most d. gone reports a server that
// exited meanwhile (its error is returned as is), so a crash at start is
// not waited out.
func WaitHTTP(cl *http.Client, name, url string, d time.Duration, gone func() error) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := gone(); err != nil {
			return err
		}
		if resp, err := cl.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not up at %s after %v", name, url, d)
}
