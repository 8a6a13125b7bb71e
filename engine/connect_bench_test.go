package engine

import "testing"

// BenchmarkConnect admits a connection and lets it go: the per-connect
// cost of the app lookup, the checks, the registration and the release.
func BenchmarkConnect(b *testing.B) {
	e := newEngine(b, Options{})
	req := ConnectRequest{AppKey: "key", Protocol: "7"}
	b.ReportAllocs()
	for b.Loop() {
		c, err := e.Connect(req, &sinkTransport{})
		if err != nil {
			b.Fatal(err)
		}
		c.Gone(nil)
	}
}
