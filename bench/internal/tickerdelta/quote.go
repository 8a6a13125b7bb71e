package tickerdelta

import (
	"math/rand/v2"
	"strconv"
)

// Quotes returns n ticker payloads: the 20-field JSON object of issue 13
// (symbol, venue, currency, state and 16 prices), of which two prices
// change from one payload to the next, the shape the engine's and the
// e2e delta tests publish. The same seed gives the same payloads, so the
// clients can check every reconstructed payload byte for byte.
func Quotes(n int, seed uint64) []string {
	rnd := rand.New(rand.NewPCG(seed, 0x5eed))
	num := func() string {
		return strconv.FormatFloat(float64(rnd.IntN(10_000_000))/100, 'f', 2, 64)
	}
	var vals [20]string
	vals[0], vals[1], vals[2], vals[3] = `"BTC"`, `"BINANCE"`, `"USD"`, `"open"`
	for i := 4; i < 20; i++ {
		vals[i] = num()
	}
	out := make([]string, n)
	buf := make([]byte, 0, 512)
	for k := range out {
		a := 4 + rnd.IntN(16)
		b := 4 + (a-4+1+rnd.IntN(15))%16 // never a
		vals[a], vals[b] = num(), num()
		buf = append(buf[:0], '{')
		for i, v := range vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `"f`...)
			if i < 10 {
				buf = append(buf, '0')
			}
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, `":`...)
			buf = append(buf, v...)
		}
		out[k] = string(append(buf, '}'))
	}
	return out
}
