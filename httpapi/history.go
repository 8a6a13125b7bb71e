package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// historyTimeout bounds one history request's store calls.
const historyTimeout = 10 * time.Second

// decodeHistoryQuery reads GET …/history's query (sockudo-v2.md §10.1):
// limit (0 is refused), direction, cursor, serial and time bounds, with
// start/end as time aliases.
func decodeHistoryQuery(query string) (engine.HistoryRequest, error) {
	var r engine.HistoryRequest
	get := func(k string) (string, bool) { return protocol.QueryValue(query, k) }
	if v, ok := get("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return r, fmt.Errorf("limit must be a positive integer, got %q", v)
		}
		r.Limit = n
	}
	d, _ := get("direction")
	newest, err := protocol.ParseHistoryDirection(d)
	if err != nil {
		return r, err
	}
	r.NewestFirst = newest
	r.Cursor, _ = get("cursor")
	if len(r.Cursor) > protocol.MaxCursorLen {
		return r, protocol.ErrCursor
	}
	for _, b := range []struct {
		keys []string
		dst  **uint64
	}{{[]string{"start_serial"}, &r.Bounds.StartSerial}, {[]string{"end_serial"}, &r.Bounds.EndSerial}} {
		if v, ok := get(b.keys[0]); ok {
			n, err := strconv.ParseUint(v, 10, 63)
			if err != nil {
				return r, fmt.Errorf("%s must be a serial, got %q", b.keys[0], v)
			}
			*b.dst = &n
		}
	}
	for _, b := range []struct {
		keys []string
		dst  **int64
	}{{[]string{"start_time_ms", "start"}, &r.Bounds.StartTimeMS}, {[]string{"end_time_ms", "end"}, &r.Bounds.EndTimeMS}} {
		for _, k := range b.keys {
			if v, ok := get(k); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					return r, fmt.Errorf("%s must be a time in ms, got %q", k, v)
				}
				*b.dst = &n
				break
			}
		}
	}
	if b := r.Bounds; b.StartSerial != nil && b.EndSerial != nil && *b.StartSerial > *b.EndSerial ||
		b.StartTimeMS != nil && b.EndTimeMS != nil && *b.StartTimeMS > *b.EndTimeMS {
		return r, errors.New("start bound is after end bound")
	}
	return r, nil
}

// historyChannel validates the path's channel and answers 422 when
// history is off for the app (Sockudo's body).
func (s *Server) historyChannel(ctx *fasthttp.RequestCtx, app *engine.App) (string, bool, *apiError) {
	ch, aerr := channelParam(ctx, app)
	if aerr != nil {
		return "", false, aerr
	}
	if !s.eng.HistoryEnabled(app) {
		b, _ := json.Marshal(struct {
			Error  string `json:"error"`
			Code   string `json:"code"`
			Status int    `json:"status"`
		}{"Durable history is disabled by policy for channel '" + ch + "'", "feature_disabled", http.StatusUnprocessableEntity})
		ctx.SetStatusCode(http.StatusUnprocessableEntity)
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
		return "", false, nil
	}
	return ch, true, nil
}

// historyError maps a history call's failure to a status.
func historyError(err error) *apiError {
	switch {
	case errors.Is(err, engine.ErrBadHistoryRequest):
		return badRequest(err.Error())
	case errors.Is(err, engine.ErrHistoryStreamChanged):
		return &apiError{status: http.StatusConflict, msg: "the history stream was reset since this cursor was issued; start again without it"}
	case errors.Is(err, engine.ErrHistoryDisabled):
		return &apiError{status: http.StatusUnprocessableEntity, msg: "durable history is disabled"}
	default:
		return &apiError{status: http.StatusServiceUnavailable, msg: "durable history is unavailable"}
	}
}

func writeRawJSON(ctx *fasthttp.RequestCtx, b []byte) {
	ctx.SetStatusCode(http.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// getHistory serves GET /apps/{app_id}/channels/{channel_name}/history.
func (s *Server) getHistory(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	ch, ok, aerr := s.historyChannel(ctx, app)
	if !ok {
		return aerr
	}
	r, err := decodeHistoryQuery(string(ctx.URI().QueryString()))
	if err != nil {
		return badRequest(err.Error())
	}
	r.Channel = ch
	c, cancel := context.WithTimeout(s.ctx, historyTimeout)
	defer cancel()
	b, err := s.eng.HistoryPageJSON(c, app, r)
	if err != nil {
		s.logHistoryError(app, ch, err)
		return historyError(err)
	}
	writeRawJSON(ctx, b)
	return nil
}

// getHistoryState serves GET …/history/state.
func (s *Server) getHistoryState(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	ch, ok, aerr := s.historyChannel(ctx, app)
	if !ok {
		return aerr
	}
	c, cancel := context.WithTimeout(s.ctx, historyTimeout)
	defer cancel()
	b, err := s.eng.HistoryStateJSON(c, app, ch)
	if err != nil {
		s.logHistoryError(app, ch, err)
		return historyError(err)
	}
	writeRawJSON(ctx, b)
	return nil
}

// historyOp is the body of POST …/history/reset and …/history/purge.
type historyOp struct {
	ConfirmChannel   string  `json:"confirm_channel"`
	ConfirmOperation string  `json:"confirm_operation"`
	Reason           string  `json:"reason"`
	RequestedBy      *string `json:"requested_by"`
	Mode             string  `json:"mode"`
	BeforeSerial     *uint64 `json:"before_serial"`
	BeforeTimeMS     *int64  `json:"before_time_ms"`
}

// decodeHistoryOp checks a reset or purge body: the channel and the
// operation confirmed, a reason given, and for purge a mode with its
// bound.
func decodeHistoryOp(body []byte, channel, op string) (historyOp, engine.HistoryPurge, error) {
	var b historyOp
	var p engine.HistoryPurge
	if err := json.Unmarshal(body, &b); err != nil {
		return b, p, fmt.Errorf("invalid JSON body: %v", err)
	}
	switch {
	case b.ConfirmChannel != channel:
		return b, p, errors.New("confirm_channel must equal the channel in the path")
	case b.ConfirmOperation != op:
		return b, p, fmt.Errorf("confirm_operation must be %q", op)
	case b.Reason == "":
		return b, p, errors.New("reason is required")
	case len(b.Reason) > 1024:
		return b, p, errors.New("reason is longer than 1024 bytes")
	}
	if op != "purge" {
		return b, p, nil
	}
	switch b.Mode {
	case "all":
		p.All = true
	case "before_serial":
		if b.BeforeSerial == nil || *b.BeforeSerial == 0 {
			return b, p, errors.New("mode before_serial needs a positive before_serial")
		}
		p.BeforeSerial = *b.BeforeSerial
	case "before_time_ms":
		if b.BeforeTimeMS == nil || *b.BeforeTimeMS <= 0 {
			return b, p, errors.New("mode before_time_ms needs a positive before_time_ms")
		}
		p.BeforeTimeMS = *b.BeforeTimeMS
	default:
		return b, p, fmt.Errorf("mode must be all, before_serial or before_time_ms, got %q", b.Mode)
	}
	return b, p, nil
}

// postHistoryReset serves POST …/history/reset: a new stream id.
func (s *Server) postHistoryReset(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	ch, ok, aerr := s.historyChannel(ctx, app)
	if !ok {
		return aerr
	}
	op, _, err := decodeHistoryOp(ctx.PostBody(), ch, "reset")
	if err != nil {
		return badRequest(err.Error())
	}
	c, cancel := context.WithTimeout(s.ctx, historyTimeout)
	defer cancel()
	b, err := s.eng.ResetHistoryJSON(c, app, ch, op.Reason)
	if err != nil {
		s.logHistoryError(app, ch, err)
		return historyError(err)
	}
	s.log.Info("history: stream reset", "app", app.ID, "channel", ch, "reason", op.Reason, "requested_by", deref(op.RequestedBy))
	writeRawJSON(ctx, b)
	return nil
}

// postHistoryPurge serves POST …/history/purge.
func (s *Server) postHistoryPurge(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	ch, ok, aerr := s.historyChannel(ctx, app)
	if !ok {
		return aerr
	}
	op, p, err := decodeHistoryOp(ctx.PostBody(), ch, "purge")
	if err != nil {
		return badRequest(err.Error())
	}
	c, cancel := context.WithTimeout(s.ctx, historyTimeout)
	defer cancel()
	n, err := s.eng.PurgeHistory(c, app, ch, p)
	if err != nil {
		s.logHistoryError(app, ch, err)
		return historyError(err)
	}
	s.log.Info("history: purged", "app", app.ID, "channel", ch, "mode", op.Mode, "deleted", n, "reason", op.Reason, "requested_by", deref(op.RequestedBy))
	writeJSON(ctx, http.StatusOK, struct {
		Channel         string `json:"channel"`
		Mode            string `json:"mode"`
		DeletedMessages int64  `json:"deleted_messages"`
	}{ch, op.Mode, n})
	return nil
}

func (s *Server) logHistoryError(app *engine.App, ch string, err error) {
	if errors.Is(err, engine.ErrBadHistoryRequest) || errors.Is(err, engine.ErrHistoryStreamChanged) {
		return
	}
	s.log.Warn("history: store call failed", "app", app.ID, "channel", ch, "err", err)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
