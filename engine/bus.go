package engine

// Bus carries messages between the nodes of a cluster. The engine keeps
// the cluster's state (channel counts, presence, online users) replicated
// from these messages, so every query is answered locally and only changes
// cross the bus: a publish crosses it once, not once per subscriber.
//
// Implementations must deliver each node's messages to every other node
// in the order that node sent them (Publish and Send together), must not
// deliver a node's own Publish back to it, and may lose messages during an
// outage: the engine resynchronises when Up is called again.
type Bus interface {
	// Start connects and subscribes to the messages of every other node
	// and to those sent to nodeID. h is called from one goroutine at a time,
	// in arrival order. Start returns once subscribed, or with an error; a
	// later disconnection is reported through h.Down and the reconnection
	// through h.Up.
	Start(nodeID string, h BusHandler) error
	// Publish sends msg to every other node. msg is not retained.
	Publish(msg []byte) error
	// Send sends msg to one node. msg is not retained.
	Send(nodeID string, msg []byte) error
	// Close unsubscribes and releases the connection.
	Close() error
}

// BusHandler receives what a Bus delivers. The Engine implements it.
type BusHandler interface {
	// Message handles one message from another node; msg is valid only
	// during the call.
	Message(msg []byte)
	// Up reports that the bus is connected (after Start's first connection
	// and after every reconnection).
	Up()
	// Down reports that the bus lost its connection.
	Down(err error)
}
