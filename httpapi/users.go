package httpapi

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
)

// userEntry is one member of a presence channel; ids are always strings.
type userEntry struct {
	ID string `json:"id"`
}

// getUsers serves GET /apps/{app_id}/channels/{channel_name}/users: the
// distinct users of a presence channel; other channel types have none (400).
func (s *Server) getUsers(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	name, aerr := channelParam(ctx, app)
	if aerr != nil {
		return aerr
	}
	if !isPresence(name) {
		return badRequest("users are only available on presence channels")
	}
	ids, err := s.eng.PresenceUsers(s.ctx, app, name)
	if err != nil {
		return engineError(err)
	}
	users := make([]userEntry, len(ids))
	for i, id := range ids {
		users[i] = userEntry{ID: id}
	}
	writeJSON(ctx, http.StatusOK, struct {
		Users []userEntry `json:"users"`
	}{users})
	return nil
}

// terminateUser serves POST /apps/{app_id}/users/{user_id}/
// terminate_connections: the engine closes that user's signed-in
// connections with 4009. The body (the Node SDK sends {}) is ignored.
func (s *Server) terminateUser(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	id, ok := pathParam(ctx, "user_id")
	if !ok {
		return badRequest("invalid user id")
	}
	if _, err := s.eng.TerminateUser(s.ctx, app, id); err != nil {
		return engineError(err)
	}
	writeEmpty(ctx)
	return nil
}
