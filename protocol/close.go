package protocol

import "strconv"

// Code is a Pusher error or WebSocket close code. Pusher codes live in
// 4000–4999; RFC 6455 codes in 1000–1015.
type Code int

// Pusher codes (pusher-protocol.md §1.7) and the RFC 6455 codes the server
// uses. How pusher-js reacts is a function of the range, see Code.Reconnect.
const (
	CodeNormal          Code = 1000 // RFC 6455 normal closure
	CodeGoingAway       Code = 1001 // RFC 6455 endpoint going away
	CodeProtocolError   Code = 1002 // RFC 6455 protocol violation
	CodeUnsupportedData Code = 1003 // RFC 6455 data type not accepted
	CodeInvalidPayload  Code = 1007 // RFC 6455 invalid UTF-8 in a text message
	CodePolicy          Code = 1008 // RFC 6455 policy violation
	CodeTooBig          Code = 1009 // RFC 6455 message too big
	CodeInternal        Code = 1011 // RFC 6455 unexpected server condition

	CodeSSLOnly             Code = 4000 // also the generic "bad message" error code
	CodeAppNotFound         Code = 4001
	CodeAppDisabled         Code = 4003
	CodeAppOverQuota        Code = 4004
	CodePathNotFound        Code = 4005
	CodeInvalidVersion      Code = 4006
	CodeUnsupportedProtocol Code = 4007
	CodeNoProtocol          Code = 4008
	CodeUnauthorized        Code = 4009
	CodeOverCapacity        Code = 4100
	CodeStoreUnavailable    Code = 4101 // ours: the app store cannot answer (database down); retry after a pause
	CodeReconnect           Code = 4200
	CodePongTimeout         Code = 4201
	CodeInactivity          Code = 4202
	CodeBadChannel          Code = 4300
	CodeClientEventRejected Code = 4301
	CodeWatchlistLimit      Code = 4302
)

// CodeInvalidMessage is the non-fatal error code for a frame the server cannot
// use (bad JSON, unknown event). It shares 4000 with CodeSSLOnly, as Pusher does.
const CodeInvalidMessage = CodeSSLOnly

// Reconnect says what pusher-js does after a close with a code.
type Reconnect uint8

// The reconnect classes of pusher-js 8 (verified, pusher-protocol.md §1.7).
const (
	ReconnectBackoff   Reconnect = iota // < 4000 and 4100–4199: retry after ~1 s
	ReconnectTLS                        // 4000: switch to wss and retry
	ReconnectNever                      // 4001–4099 and ≥ 4300: stay disconnected
	ReconnectImmediate                  // 4200–4299: retry at once
)

// codeReasons is the one table of default messages. A close reason must fit
// a control frame (≤ 123 bytes), so these stay short.
var codeReasons = map[Code]string{
	CodeNormal:              "Normal closure",
	CodeGoingAway:           "Going away",
	CodeProtocolError:       "Protocol error",
	CodeUnsupportedData:     "Unsupported data",
	CodeInvalidPayload:      "Invalid UTF-8 in text message",
	CodePolicy:              "Policy violation",
	CodeTooBig:              "Message too big",
	CodeInternal:            "Internal server error",
	CodeSSLOnly:             "Invalid message",
	CodeAppNotFound:         "App key does not exist",
	CodeAppDisabled:         "App is disabled",
	CodeAppOverQuota:        "App is over its connection quota",
	CodePathNotFound:        "Path not found",
	CodeInvalidVersion:      "Invalid version string format",
	CodeUnsupportedProtocol: "Unsupported protocol version",
	CodeNoProtocol:          "No protocol version supplied",
	CodeUnauthorized:        "Unauthorized",
	CodeOverCapacity:        "Over capacity",
	CodeStoreUnavailable:    "App store unavailable, retry later",
	CodeReconnect:           "Server is shutting down, reconnect",
	CodePongTimeout:         "Pong reply not received in time",
	CodeInactivity:          "Closed after inactivity",
	CodeBadChannel:          "Invalid channel",
	CodeClientEventRejected: "Client event rejected",
	CodeWatchlistLimit:      "Watchlist limit exceeded, only the first 100 ids are kept",
}

// Reason is the default human message for c.
func (c Code) Reason() string {
	if r, ok := codeReasons[c]; ok {
		return r
	}
	return "Error " + strconv.Itoa(int(c))
}

// Reconnect reports how pusher-js reacts to a close with code c.
func (c Code) Reconnect() Reconnect {
	switch {
	case c == CodeSSLOnly:
		return ReconnectTLS
	case c > 4000 && c < 4100, c >= 4300:
		return ReconnectNever
	case c >= 4200 && c < 4300:
		return ReconnectImmediate
	default:
		return ReconnectBackoff
	}
}

// Error is a Pusher protocol error: sent as pusher:error {code, message} and,
// when it ends the connection, as the WebSocket close code and reason.
type Error struct {
	Code    Code
	Message string
}

// NewError returns an *Error with code's default message when msg is empty.
func NewError(code Code, msg string) *Error {
	if msg == "" {
		msg = code.Reason()
	}
	return &Error{Code: code, Message: msg}
}

func (e *Error) Error() string {
	return "pusher error " + strconv.Itoa(int(e.Code)) + ": " + e.Message
}
