package expose

import (
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
)

type fakeHealth struct{ state atomic.Int32 }

func (f *fakeHealth) StoreState() engine.StoreState { return engine.StoreState(f.state.Load()) }

// The metrics port's /up reports the app store like the API port's:
// DEGRADED (200), ERROR (503); /ready does not.
func TestUpReportsStoreHealth(t *testing.T) {
	h := &fakeHealth{}
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.AttachStore(h)
	call := func(path string) (int, string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		s.Handler()(&ctx)
		return ctx.Response.StatusCode(), string(ctx.Response.Body())
	}
	for _, c := range []struct {
		state  engine.StoreState
		status int
		body   string
	}{
		{engine.StoreOK, 200, "OK"},
		{engine.StoreDegraded, 200, "DEGRADED"},
		{engine.StoreDown, 503, "ERROR"},
	} {
		h.state.Store(int32(c.state))
		if st, b := call("/up"); st != c.status || b != c.body {
			t.Errorf("%v: /up %d %q, want %d %q", c.state, st, b, c.status, c.body)
		}
	}
}
