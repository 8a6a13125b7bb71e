package floor

import (
	"bytes"
	"errors"
)

// maxHead bounds one request's header block; the publisher's are < 1 KiB.
const maxHead = 16 << 10

var (
	errHeadTooLong = errors.New("request header block over 16 KiB")
	errBadLength   = errors.New("bad Content-Length")
)

// framer finds complete HTTP/1.1 requests (headers to \r\n\r\n, then a
// Content-Length body) in a byte stream that arrives in arbitrary pieces.
// It parses nothing else: the HTTP floor must cost only the bytes moving.
type framer struct {
	pend []byte // bytes of requests not yet complete
}

// feed adds data and returns how many requests it completed.
func (f *framer) feed(data []byte) (int, error) {
	buf := data
	if len(f.pend) > 0 {
		f.pend = append(f.pend, data...)
		buf = f.pend
	}
	n := 0
	for {
		k, err := nextRequest(buf)
		if err != nil {
			return n, err
		}
		if k == 0 {
			break
		}
		n++
		buf = buf[k:]
	}
	// Keep the incomplete tail; copy so data's buffer can be reused.
	f.pend = append(f.pend[:0], buf...)
	return n, nil
}

// nextRequest returns the length of the complete request at the start of
// b, or 0 if b does not hold one yet.
func nextRequest(b []byte) (int, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > maxHead {
			return 0, errHeadTooLong
		}
		return 0, nil
	}
	length, err := contentLength(b[:end+2])
	if err != nil {
		return 0, err
	}
	total := end + 4 + length
	if len(b) < total {
		return 0, nil
	}
	return total, nil
}

// contentLength reads the Content-Length header of a header block (0 when
// there is none, as for a request without a body).
func contentLength(head []byte) (int, error) {
	const name = "content-length:"
	for len(head) > 0 {
		eol := bytes.IndexByte(head, '\n')
		if eol < 0 {
			eol = len(head) - 1
		}
		line := head[:eol+1]
		head = head[eol+1:]
		if len(line) <= len(name) || !bytes.EqualFold(line[:len(name)], []byte(name)) {
			continue
		}
		v := bytes.TrimSpace(line[len(name):])
		if len(v) == 0 || len(v) > 9 {
			return 0, errBadLength
		}
		n := 0
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0, errBadLength
			}
			n = n*10 + int(c-'0')
		}
		return n, nil
	}
	return 0, nil
}
