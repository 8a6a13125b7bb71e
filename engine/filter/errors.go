package filter

import "fmt"

// Error is a filter refused at subscribe. Its text is Sockudo's, prefix
// included, so the engine sends it unchanged as the message of a
// `sockudo:error` with code 4000 and does not create the subscription.
type Error struct {
	msg string
}

// Error returns the full client-facing text.
func (e *Error) Error() string { return "Invalid message format: " + e.msg }

// Code is the Pusher error code the engine sends with it.
func (e *Error) Code() int { return 4000 }

func errorf(format string, args ...any) *Error {
	return &Error{msg: fmt.Sprintf(format, args...)}
}

// shapeError is a tag tree that is not a filter node (Sockudo's
// deserialisation failure).
func shapeError(detail string) *Error { return errorf("Invalid tags filter shape: %s", detail) }

// treeError is a tag tree that is a node but not a valid one.
func treeError(detail string) *Error { return errorf("Invalid tags filter: %s", detail) }

// compileError is a filter over a limit or with a bad expression.
func compileError(detail string) *Error {
	return errorf("Invalid subscription filter: %s", detail)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
