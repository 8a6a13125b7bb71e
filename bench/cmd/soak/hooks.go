package main

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// hookReceiver is the local webhook endpoint: it verifies
// X-Pusher-Key/X-Pusher-Signature and tallies events per kind, per channel
// (occupied/vacated) and per presence member (added/removed).
type hookReceiver struct {
	key, secret string
	srv         *http.Server
	ln          net.Listener

	mu        sync.Mutex
	posts     int // POSTs answered 200
	badSig    int
	badBody   int
	kinds     map[string]int
	occ       map[string]*pairCount            // channel → occupied/vacated
	members   map[string]map[string]*pairCount // channel → user → added/removed
	clientEvs map[string]int                   // "channel|data" → count (client_event webhooks)
	lastAt    time.Time
}

// pairCount counts a start/end pair and how often the order was wrong
// (an end with no open start, a start while open).
type pairCount struct {
	start, end, outOfOrder int
}

func (p *pairCount) open() bool { return p.start > p.end }

func newHookReceiver(ln net.Listener, key, secret string) *hookReceiver {
	h := &hookReceiver{key: key, secret: secret, ln: ln,
		kinds: map[string]int{}, occ: map[string]*pairCount{},
		members: map[string]map[string]*pairCount{}, clientEvs: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", h.serve)
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h
}

type hookBody struct {
	TimeMs int64 `json:"time_ms"`
	Events []struct {
		Name    string `json:"name"`
		Channel string `json:"channel"`
		UserID  string `json:"user_id"`
		Event   string `json:"event"`
		Data    string `json:"data"`
	} `json:"events"`
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil || r.Method != http.MethodPost {
		h.mu.Lock()
		h.badBody++
		h.mu.Unlock()
		w.WriteHeader(400)
		return
	}
	want := protocol.SignBody(h.secret, body)
	if r.Header.Get("X-Pusher-Key") != h.key || !hmac.Equal([]byte(r.Header.Get("X-Pusher-Signature")), []byte(want)) {
		h.mu.Lock()
		h.badSig++
		h.mu.Unlock()
		w.WriteHeader(401)
		return
	}
	var b hookBody
	if err := json.Unmarshal(body, &b); err != nil || b.TimeMs == 0 {
		h.mu.Lock()
		h.badBody++
		h.mu.Unlock()
		w.WriteHeader(400)
		return
	}
	h.mu.Lock()
	h.posts++
	h.lastAt = time.Now()
	for _, ev := range b.Events {
		h.kinds[ev.Name]++
		switch ev.Name {
		case "channel_occupied", "channel_vacated":
			p := h.occ[ev.Channel]
			if p == nil {
				p = &pairCount{}
				h.occ[ev.Channel] = p
			}
			p.add(ev.Name == "channel_occupied")
		case "member_added", "member_removed":
			m := h.members[ev.Channel]
			if m == nil {
				m = map[string]*pairCount{}
				h.members[ev.Channel] = m
			}
			p := m[ev.UserID]
			if p == nil {
				p = &pairCount{}
				m[ev.UserID] = p
			}
			p.add(ev.Name == "member_added")
		case "client_event":
			h.clientEvs[ev.Channel+"|"+ev.Data]++
		}
	}
	h.mu.Unlock()
	w.WriteHeader(200)
}

func (p *pairCount) add(start bool) {
	if start {
		if p.open() {
			p.outOfOrder++
		}
		p.start++
	} else {
		if !p.open() {
			p.outOfOrder++
		}
		p.end++
	}
}

// hookStats is a snapshot of the receiver's tallies.
type hookStats struct {
	posts, badSig, badBody      int
	kinds                       map[string]int
	channels, unbalancedCh      int
	memberPairs, unbalancedMemb int
	outOfOrder                  int
	clientEvDup                 int
	examples                    []string
	idle                        time.Duration
}

func (h *hookReceiver) stats() hookStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := hookStats{posts: h.posts, badSig: h.badSig, badBody: h.badBody, kinds: map[string]int{}}
	for k, v := range h.kinds {
		s.kinds[k] = v
	}
	if !h.lastAt.IsZero() {
		s.idle = time.Since(h.lastAt)
	}
	var ex []string
	for ch, p := range h.occ {
		s.channels++
		s.outOfOrder += p.outOfOrder
		if p.start != p.end {
			s.unbalancedCh++
			ex = append(ex, ch+" occupied "+itoa(p.start)+" vacated "+itoa(p.end))
		}
	}
	for ch, m := range h.members {
		for u, p := range m {
			s.memberPairs++
			s.outOfOrder += p.outOfOrder
			if p.start != p.end {
				s.unbalancedMemb++
				ex = append(ex, ch+"/"+u+" added "+itoa(p.start)+" removed "+itoa(p.end))
			}
		}
	}
	for _, n := range h.clientEvs {
		if n > 1 {
			s.clientEvDup += n - 1
		}
	}
	sort.Strings(ex)
	if len(ex) > 5 {
		ex = ex[:5]
	}
	s.examples = ex
	return s
}

// seenChannels returns the channels with at least one occupied webhook.
func (h *hookReceiver) occupiedSeen(ch string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.occ[ch]
	return p != nil && p.start > 0
}

// dropIdle closes the receiver's idle keep-alive connections so the
// server's webhook client releases its sockets before the final scrape.
func (h *hookReceiver) dropIdle() { h.srv.SetKeepAlivesEnabled(false) }

func (h *hookReceiver) close() { _ = h.srv.Close() }
