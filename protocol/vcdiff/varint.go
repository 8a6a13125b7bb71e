package vcdiff

// appendInt appends v in RFC 3284's integer form (section 2): base-128
// digits, most significant first, every byte but the last with bit 7 set.
func appendInt(dst []byte, v uint64) []byte {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = byte(v & 0x7f)
	for v >>= 7; v != 0; v >>= 7 {
		i--
		tmp[i] = byte(v&0x7f) | 0x80
	}
	return append(dst, tmp[i:]...)
}

// intLen is the number of bytes appendInt writes for v.
func intLen(v uint64) int {
	n := 1
	for v >>= 7; v != 0; v >>= 7 {
		n++
	}
	return n
}
