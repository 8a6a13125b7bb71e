package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/idempotency"
)

// idempotencyHeader carries the key of a whole request (/events, or a
// whole /batch_events); a body idempotency_key wins on /events.
const idempotencyHeader = "X-Idempotency-Key"

// Refusals of idempotent publishing, Sockudo's wording and codes.
const (
	msgConflict    = "idempotency key was already used with a different payload"
	msgInFlight    = "a request with this idempotency key is still being processed, retry later"
	msgUnavailable = "Idempotency coordination is temporarily unavailable"
)

// idemOn reports whether app's publishes honour idempotency keys
// (idempotency.enabled and the app's policy).
func (s *Server) idemOn(app *engine.App) bool {
	return s.idem != nil && !app.IdempotencyDisabled
}

// keyLen is the longest idempotency key accepted.
func (s *Server) keyLen() int {
	if s.idem != nil {
		return s.idem.MaxKeyLength()
	}
	return maxKeyLen
}

// headerKey reads X-Idempotency-Key; "" when absent. Present, it must be
// 1 to keyLen bytes.
func (s *Server) headerKey(ctx *fasthttp.RequestCtx) (string, *apiError) {
	v := ctx.Request.Header.Peek(idempotencyHeader)
	if v == nil {
		return "", nil
	}
	if len(v) == 0 || len(v) > s.keyLen() {
		return "", badRequest(idempotencyHeader + " must be 1 to " + strconv.Itoa(s.keyLen()) + " bytes")
	}
	return string(v), nil
}

// requestKey is the Guard key of an /events key (body or header).
func requestKey(app *engine.App, key string) string {
	return "app:" + app.ID + ":idempotency:" + key
}

// batchKey is the Guard key of a whole batch's header key.
func batchKey(app *engine.App, key string) string {
	return "app:" + app.ID + ":batch-idempotency:" + key
}

// channelKey is the Guard key of extras.idempotencyKey on one channel,
// hashed as Sockudo's publish service hashes it.
func channelKey(app *engine.App, channel, key string) string {
	sum := sha256.Sum256([]byte(app.ID + "\x00" + channel + "\x00" + key))
	return "idempotency:publish:v1:" + hex.EncodeToString(sum[:])
}

// eventFingerprint hashes what makes two publishes the same: name, data,
// socket_id, the V2 members and, unless per channel, the channels.
func eventFingerprint(ev *engine.Event, withChannels bool) string {
	parts := make([]string, 0, 8+len(ev.Channels))
	parts = append(parts, ev.Name, ev.Data, ev.SocketID)
	if x := ev.V2; x != nil {
		parts = append(parts, string(x.Tags), string(x.Extras), x.MessageID, strconv.FormatBool(x.Ephemeral))
	} else {
		parts = append(parts, "", "", "", "")
	}
	if withChannels {
		parts = append(parts, ev.Channels...)
	}
	return idempotency.Fingerprint(parts...)
}

// begin claims key, mapping every outcome but Proceed and Replay to its
// refusal.
func (s *Server) begin(ctx *fasthttp.RequestCtx, app *engine.App, key, fp string) (idempotency.Claim, *apiError) {
	c, err := s.idem.Begin(s.ctx, key, fp, app.IdempotencyTTL)
	if err != nil {
		return c, s.unavailable(ctx, err)
	}
	switch c.Outcome {
	case idempotency.Conflict:
		return c, badRequest(msgConflict)
	case idempotency.InFlight:
		ctx.Response.Header.Set("Retry-After", "1")
		return c, &apiError{status: http.StatusServiceUnavailable, msg: msgInFlight, code: "backpressure"}
	}
	return c, nil
}

// unavailable is the refusal of a failing store: without it a duplicate
// cannot be told from a first request, so nothing is published.
func (s *Server) unavailable(ctx *fasthttp.RequestCtx, err error) *apiError {
	if n, ok := s.idemErrLog.Due(time.Now()); ok {
		s.log.Warn("idempotency store failed: keyed publishes answered 503", "err", err, "refused_since_last_log", n)
	}
	ctx.Response.Header.Set("Retry-After", "1")
	return &apiError{status: http.StatusServiceUnavailable, msg: msgUnavailable, code: "service_unavailable"}
}

// once runs publish, which writes the response, under key: a duplicate
// gets the first response (status and body) and publishes nothing. A
// publish that fails releases the key, so its retry runs.
func (s *Server) once(ctx *fasthttp.RequestCtx, app *engine.App, key, fp string, publish func() *apiError) *apiError {
	c, aerr := s.begin(ctx, app, key, fp)
	if aerr != nil {
		return aerr
	}
	if c.Outcome == idempotency.Replay {
		ctx.SetStatusCode(c.Entry.Status)
		ctx.SetContentType("application/json")
		ctx.SetBody(c.Entry.Body)
		return nil
	}
	aerr = publish()
	if st := ctx.Response.StatusCode(); aerr != nil || st < 200 || st > 299 {
		s.release(&c)
		return aerr
	}
	body := append([]byte(nil), ctx.Response.Body()...)
	if err := s.idem.Commit(s.ctx, &c, fp, ctx.Response.StatusCode(), body); err != nil {
		s.storeFailed("commit", err)
	}
	return nil
}

// release gives up a claim after a failed publish.
func (s *Server) release(c *idempotency.Claim) {
	if err := s.idem.Abort(s.ctx, c); err != nil {
		s.storeFailed("release", err)
	}
}

// storeFailed logs a store error after the publish was decided: the key
// then lapses with its TTL.
func (s *Server) storeFailed(op string, err error) {
	if n, ok := s.idemErrLog.Due(time.Now()); ok {
		s.log.Warn("idempotency store failed after publishing", "op", op, "err", err, "since_last_log", n)
	}
}

// channelClaims holds one event's per-channel claims (extras
// idempotencyKey): channels already published under the key are taken
// out of the event and answered with their first acknowledgement.
type channelClaims struct {
	fp       string
	report   bool // the request asked for acknowledgements
	claims   []idempotency.Claim
	channels []string // claimed, parallel to claims
	replayed []engine.PublishAck
}

// storedAck is the first acknowledgement of a channel, as kept.
type storedAck struct {
	ID     string  `json:"acknowledgement_id,omitempty"`
	Serial *uint64 `json:"message_serial,omitempty"`
}

// claimChannels claims ev's channels under ev.V2.ChannelKey and drops the
// duplicates from ev.Channels. nil when the event has no channel key.
func (s *Server) claimChannels(ctx *fasthttp.RequestCtx, app *engine.App, ev *engine.Event) (*channelClaims, *apiError) {
	if ev.V2 == nil || ev.V2.ChannelKey == "" {
		return nil, nil
	}
	cc := &channelClaims{fp: eventFingerprint(ev, false), report: ev.WantAcks}
	keep := ev.Channels[:0:0]
	for _, ch := range ev.Channels {
		c, aerr := s.begin(ctx, app, channelKey(app, ch, ev.V2.ChannelKey), cc.fp)
		if aerr != nil {
			s.releaseChannels(cc)
			return nil, aerr
		}
		if c.Outcome == idempotency.Replay {
			var a storedAck
			_ = json.Unmarshal(c.Entry.Body, &a)
			ack := engine.PublishAck{Channel: ch, MessageID: a.ID}
			if a.Serial != nil {
				ack.Serial, ack.HasSerial = *a.Serial, true
			}
			cc.replayed = append(cc.replayed, ack)
			continue
		}
		cc.claims = append(cc.claims, c)
		cc.channels = append(cc.channels, ch)
		keep = append(keep, ch)
	}
	ev.Channels = keep
	ev.WantAcks = true // kept for the duplicates' answers
	return cc, nil
}

// releaseChannels gives up the claims of a publish that did not happen.
func (s *Server) releaseChannels(cc *channelClaims) {
	if cc == nil {
		return
	}
	for i := range cc.claims {
		s.release(&cc.claims[i])
	}
}

// commitChannels keeps each published channel's acknowledgement.
func (s *Server) commitChannels(cc *channelClaims, acks []engine.PublishAck) {
	if cc == nil {
		return
	}
	for i, ch := range cc.channels {
		var a storedAck
		if ack, ok := findAck(acks, ch); ok {
			a.ID = ack.MessageID
			if ack.HasSerial {
				serial := ack.Serial
				a.Serial = &serial
			}
		}
		body, _ := json.Marshal(a)
		if err := s.idem.Commit(s.ctx, &cc.claims[i], cc.fp, http.StatusOK, body); err != nil {
			s.storeFailed("commit", err)
		}
	}
}

// findAck returns the acknowledgement of channel among acks.
func findAck(acks []engine.PublishAck, channel string) (engine.PublishAck, bool) {
	for _, a := range acks {
		if a.Channel == channel {
			return a, true
		}
	}
	return engine.PublishAck{}, false
}
