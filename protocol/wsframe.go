package protocol

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// Opcode is a WebSocket frame opcode (RFC 6455 §5.2).
type Opcode byte

// Opcodes.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// CodeNoStatus is what ParseClosePayload reports for an empty close
// payload (RFC 6455 §7.1.5). It must never be sent in a close frame.
const CodeNoStatus Code = 1005

// MaxFrameHeader is the largest server frame header AppendFrameHeader writes.
const MaxFrameHeader = 10

// maxControlPayload is the RFC 6455 limit for ping, pong and close payloads.
const maxControlPayload = 125

// AppendFrameHeader appends an unmasked server frame header with FIN set.
func AppendFrameHeader(dst []byte, op Opcode, payloadLen int) []byte {
	b0 := 0x80 | byte(op)
	switch {
	case payloadLen <= maxControlPayload:
		return append(dst, b0, byte(payloadLen))
	case payloadLen <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, b0, 126), uint16(payloadLen))
	}
	return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(payloadLen))
}

// AppendFrame appends a whole unmasked server frame (header + payload).
func AppendFrame(dst []byte, op Opcode, payload []byte) []byte {
	return append(AppendFrameHeader(dst, op, len(payload)), payload...)
}

// AppendClientFrame appends a whole masked frame with FIN set, as a client
// sends it (RFC 6455 §5.3): for load generators and tests that speak to
// the server as clients do.
func AppendClientFrame(dst []byte, op Opcode, payload []byte, mask [4]byte) []byte {
	start := len(dst)
	dst = AppendFrameHeader(dst, op, len(payload))
	dst[start+1] |= 0x80
	dst = append(dst, mask[:]...)
	for i, c := range payload {
		dst = append(dst, c^mask[i&3])
	}
	return dst
}

// AppendCloseFrame appends a close frame with code and reason (reason cut to
// 123 bytes on a UTF-8 boundary).
func AppendCloseFrame(dst []byte, code Code, reason string) []byte {
	if len(reason) > maxControlPayload-2 {
		n := maxControlPayload - 2
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	dst = AppendFrameHeader(dst, OpClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// ParseClosePayload returns the code and reason of a close frame payload
// (CodeNormal-less: 1005 "no status" when empty). A payload of 1 byte, an
// invalid code or invalid UTF-8 reason is a *Error 1002/1007.
func ParseClosePayload(p []byte) (Code, string, error) {
	if err := checkClosePayload(p); err != nil {
		return 0, "", err
	}
	if len(p) == 0 {
		return CodeNoStatus, "", nil
	}
	return Code(binary.BigEndian.Uint16(p)), string(p[2:]), nil
}

// checkClosePayload is ParseClosePayload's validation, without copying
// the reason.
func checkClosePayload(p []byte) *Error {
	switch {
	case len(p) == 0:
		return nil
	case len(p) == 1:
		return NewError(CodeProtocolError, "close frame with a 1-byte payload")
	}
	code := Code(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return NewError(CodeProtocolError, "invalid close code "+strconv.Itoa(int(code)))
	}
	if !utf8.Valid(p[2:]) {
		return NewError(CodeInvalidPayload, "close reason is not valid UTF-8")
	}
	return nil
}

// validCloseCode reports whether a peer may send code (RFC 6455 §7.4 and
// the IANA registry): 1004–1006 and 1015 are reserved, 1016–2999 unassigned.
func validCloseCode(code Code) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	}
	return code >= 3000 && code <= 4999
}

// maskCopy writes src XOR the masking key into dst (len(dst) ≥ len(src)),
// starting at key byte pos%4 (RFC 6455 §5.3), eight bytes at a time.
// Copying and unmasking in one pass saves a trip through memory.
func maskCopy(dst, src []byte, key [4]byte, pos int) {
	var k [4]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	k32 := uint64(binary.LittleEndian.Uint32(k[:]))
	k64 := k32 | k32<<32
	dst = dst[:len(src)]
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k64)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ k[i&3]
	}
}
