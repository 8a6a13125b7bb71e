package floor

import (
	"fmt"
	"testing"
)

func TestPacedRoundsWriteOneChannelsSubscribersInTurn(t *testing.T) {
	fds := make([]int, 10000)
	for i := range fds {
		fds[i] = 100 + i
	}
	p := pattern{rounds: 3000, perRound: 10}
	f := func(r int, want ...int) {
		t.Helper()
		if got := p.round(nil, fds, r); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("round %d: %v, want %v", r, got, want)
		}
	}
	// Connection i subscribes to channel i % 1000 in 4-many-channels.
	f(0, 100, 1100, 2100, 3100, 4100, 5100, 6100, 7100, 8100, 9100)
	f(7, 107, 1107, 2107, 3107, 4107, 5107, 6107, 7107, 8107, 9107)
	f(1003, 103, 1103, 2103, 3103, 4103, 5103, 6103, 7103, 8103, 9103)
	if got := (pattern{rounds: 1}).round(nil, fds, 5); len(got) != len(fds) {
		t.Errorf("whole-set round wrote %d sockets, want %d", len(got), len(fds))
	}
}
