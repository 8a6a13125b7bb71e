package engine

import (
	"context"
	"errors"

	"github.com/sockudo/sockudo-go/protocol"
)

// maxHistoryInflight is how many channel_history requests one
// connection may have open (Sockudo's limit).
const maxHistoryInflight = 2

// channelHistory answers sockudo:channel_history (sockudo-v2.md §10.2)
// with a page like the HTTP API's, read off the connection's read path.
// until_attach ends the page at the attach_serial the channel was
// acknowledged with, so a client that subscribed and then backfills gets
// exactly what came before its live messages.
func (c *Conn) channelHistory(data []byte) {
	if !c.v2 {
		c.sendError(protocol.CodeInvalidMessage, "Protocol error: channel_history is only supported on protocol V2", "")
		return
	}
	r, err := protocol.DecodeChannelHistory(data)
	if err != nil {
		c.sendError(protocol.CodeInvalidMessage, "Protocol error: "+err.Error(), "")
		return
	}
	c.mu.Lock()
	subscribed := c.subIndex(r.Channel) >= 0
	attach, hasAttach := c.attachSerials[r.Channel]
	c.mu.Unlock()
	app := c.app()
	switch {
	case !subscribed:
		c.sendError(protocol.CodeClientEventRejected, "Client event error: Socket "+c.id+" is not subscribed to channel "+r.Channel, "")
		return
	case !c.e.historyOn(app):
		c.sendError(protocol.CodeBadChannel, "Channel error: Durable history is disabled by policy for channel '"+r.Channel+"'", "")
		return
	case r.UntilAttach && !hasAttach:
		c.sendError(protocol.CodeInvalidMessage, "Protocol error: no attach_serial was recorded for channel "+r.Channel, "")
		return
	}
	if r.UntilAttach {
		if r.Bounds.EndSerial == nil || *r.Bounds.EndSerial > attach {
			r.Bounds.EndSerial = &attach
		}
		yes := true
		r.Bounds.UntilAttach, r.Bounds.AttachSerial = &yes, &attach
	}
	if c.histInflight.Add(1) > maxHistoryInflight {
		c.histInflight.Add(-1)
		c.sendError(protocol.CodeClientEventRejected, "Too many concurrent channel_history requests for this connection", "")
		return
	}
	go c.answerHistory(app, r)
}

func (c *Conn) answerHistory(app *App, r protocol.ChannelHistoryRequest) {
	defer c.histInflight.Add(-1)
	ctx, cancel := context.WithTimeout(context.Background(), c.e.historyTimeout())
	defer cancel()
	page, err := c.e.HistoryPageJSON(ctx, app, HistoryRequest{Channel: r.Channel, Limit: r.Limit,
		NewestFirst: r.NewestFirst, Bounds: r.Bounds, Cursor: r.Cursor})
	switch {
	case errors.Is(err, ErrBadHistoryRequest), errors.Is(err, ErrHistoryStreamChanged):
		c.sendError(protocol.CodeInvalidMessage, "Protocol error: "+err.Error(), "")
		return
	case err != nil:
		c.sendError(protocol.CodeBadChannel, "Channel error: durable history is unavailable for channel '"+r.Channel+"'", "")
		return
	}
	msg := []byte(`{"event":"sockudo:channel_history","channel":`)
	msg = protocol.AppendJSONString(msg, r.Channel)
	msg = append(msg, `,"data":`...)
	msg = append(msg, page...)
	msg = append(msg, `,"message_id":`...)
	msg = protocol.AppendJSONString(msg, protocol.NewMessageID())
	c.sendExact(append(msg, '}'))
}
