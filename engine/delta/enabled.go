package delta

// AppendEnabled appends the reply to sockudo:enable_delta_compression,
// {"event":"sockudo:delta_compression_enabled","data":{"enabled":true,
// "algorithm":"fossil"}}, with trailer (top-level fields such as
// `,"message_id":"…"`, each starting with a comma) before the final brace.
// a is the global algorithm; the JS client takes it as its default for
// delta frames without `algorithm`.
func AppendEnabled(dst []byte, a Algorithm, trailer []byte) []byte {
	dst = append(dst, `{"event":"sockudo:delta_compression_enabled","data":{"enabled":true,"algorithm":"`...)
	dst = append(dst, a.String()...)
	dst = append(dst, `"}`...)
	dst = append(dst, trailer...)
	return append(dst, '}')
}
