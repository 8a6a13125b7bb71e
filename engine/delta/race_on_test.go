//go:build race

package delta

// raceEnabled shortens the long property runs, which the race detector
// slows tenfold.
const raceEnabled = true
