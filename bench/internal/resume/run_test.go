package resume

import (
	"io"
	"strings"
	"testing"
)

func TestPercentilesNearestRank(t *testing.T) {
	v := make([]float64, 0, 1000)
	for i := 1000; i >= 1; i-- {
		v = append(v, float64(i))
	}
	p := pcts(v)
	if p["p50"] != 500 || p["p99"] != 990 || p["max"] != 1000 {
		t.Fatalf("pcts(1..1000) = %v", p)
	}
	if p := pcts([]float64{7}); p["p50"] != 7 || p["p99"] != 7 || p["max"] != 7 {
		t.Fatalf("pcts([7]) = %v", p)
	}
	if pcts(nil) != nil {
		t.Fatal("pcts(nil) should be nil (no client reached that point)")
	}
}

func TestFlagsRefuseImpossibleRuns(t *testing.T) {
	for _, args := range []string{
		"-clients 10 -channels 20", // a channel without subscribers has no head to check
		"-rate 0",
		"-src-base ::1",
		"-channels 0",
	} {
		if _, err := parseFlags(strings.Fields(args), io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	c, err := parseFlags(strings.Fields("-clients 1000 -channels 100 -payload 5"), io.Discard)
	if err != nil || c.Payload != 21 || c.SrcIPs != 4 {
		t.Fatalf("%+v %v: payload is raised to the stamp's 21 bytes", c, err)
	}
}
