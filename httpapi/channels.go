package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// getChannels serves GET /apps/{app_id}/channels: the occupied channels,
// optionally filtered by prefix. user_count needs a presence- prefix, so a
// caller cannot ask for it on channels that have no users.
func (s *Server) getChannels(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	prefix := queryValue(ctx, "filter_by_prefix")
	info := parseInfo(queryValue(ctx, "info"))
	if info.userCount && !strings.HasPrefix(prefix, "presence-") {
		return badRequest("info=user_count requires filter_by_prefix to start with presence-")
	}
	list, err := s.eng.Channels(s.ctx, app, prefix)
	if err != nil {
		return engineError(err)
	}
	out := make(map[string]channelAttrs, len(list))
	for i := range list {
		ci := &list[i]
		var a channelAttrs
		if info.userCount && isPresence(ci.Name) {
			a.UserCount = &ci.UserCount
		}
		if info.subscriptionCount {
			a.SubscriptionCount = &ci.SubscriptionCount
		}
		out[ci.Name] = a
	}
	writeJSON(ctx, http.StatusOK, struct {
		Channels map[string]channelAttrs `json:"channels"`
	}{out})
	return nil
}

// channelBody is the answer of GET /channels/{channel_name}.
type channelBody struct {
	Occupied          bool       `json:"occupied"`
	UserCount         *int       `json:"user_count,omitempty"`
	SubscriptionCount *int       `json:"subscription_count,omitempty"`
	Cache             *cacheBody `json:"cache,omitempty"`
}

// cacheBody is a cache channel's last event, with its seconds left to live.
type cacheBody struct {
	Data string `json:"data"`
	TTL  int64  `json:"ttl"`
}

// getChannel serves GET /apps/{app_id}/channels/{channel_name}.
func (s *Server) getChannel(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	name, aerr := channelParam(ctx, app)
	if aerr != nil {
		return aerr
	}
	info := parseInfo(queryValue(ctx, "info"))
	kind, cache := protocol.ParseChannel(name)
	if info.userCount && kind != protocol.KindPresence {
		return badRequest("user_count is only available on presence channels")
	}
	ci, err := s.eng.Channel(s.ctx, app, name)
	if err != nil {
		return engineError(err)
	}
	out := channelBody{Occupied: ci.Occupied}
	// An unoccupied channel has no counts to report, as on Pusher: one
	// emptied a moment ago, here or on another node, answers exactly
	// like one never used.
	if info.userCount && ci.Occupied {
		out.UserCount = &ci.UserCount
	}
	if info.subscriptionCount && ci.Occupied {
		out.SubscriptionCount = &ci.SubscriptionCount
	}
	if info.cache && cache {
		if ev, ok := s.eng.CachedEvent(s.ctx, app, name); ok {
			out.Cache = &cacheBody{Data: ev.Data, TTL: int64(ev.TTL / time.Second)}
		}
	}
	writeJSON(ctx, http.StatusOK, out)
	return nil
}

// channelParam returns the decoded {channel_name} of the path, refusing
// names that are not valid channels (400).
func channelParam(ctx *fasthttp.RequestCtx, app *engine.App) (string, *apiError) {
	name, ok := pathParam(ctx, "channel_name")
	if !ok || !limitsOf(app).validTarget(name) {
		return "", badRequest("invalid channel name")
	}
	return name, nil
}
