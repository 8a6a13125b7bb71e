// Package bus holds the engine.Bus adapters that connect the nodes of a
// cluster: natsbus (NATS) and redisbus (Redis pub/sub). bustest is the
// conformance suite every adapter passes.
package bus

// Observer counts what an adapter moves; the metrics adapter satisfies it
// (adapter_published_total, adapter_received_total, adapter_errors_total).
// Calls must not block.
type Observer interface {
	AdapterPublished()
	AdapterReceived()
	AdapterError()
}

// NopObserver counts nothing.
type NopObserver struct{}

// AdapterPublished does nothing.
func (NopObserver) AdapterPublished() {}

// AdapterReceived does nothing.
func (NopObserver) AdapterReceived() {}

// AdapterError does nothing.
func (NopObserver) AdapterError() {}
