package engine

import "time"

// App is one tenant's credentials, switches and limits, as the app store
// holds them. The engine never mutates an App; limits of 0 mean "no limit"
// unless a field says otherwise (configs fills per-app defaults).
type App struct {
	ID     string
	Key    string
	Secret string

	Enabled                  bool
	EnableClientMessages     bool
	EnableUserAuthentication bool
	EnableWatchlistEvents    bool
	EnableSubscriptionCount  bool

	MaxConnections                int // per node; 0 = unlimited
	MaxClientEventsPerSecond      int // per connection; 0 = unlimited
	MaxPresenceMembersPerChannel  int
	MaxPresenceMemberSizeKB       int
	MaxChannelNameLength          int // 0 → protocol.DefaultMaxChannelNameLength
	MaxEventChannelsAtOnce        int
	MaxEventNameLength            int
	MaxEventPayloadKB             int
	MaxEventBatchSize             int
	MaxSubscriptionsPerConnection int
	MaxBackendEventsPerSecond     int
	MaxReadRequestsPerSecond      int

	// ClientEventWindow is the window MaxClientEventsPerSecond is counted
	// over (Sockudo's decay_seconds); 0 → 1 s.
	ClientEventWindow time.Duration
	// TerminateOnClientEventLimit closes (4301) instead of only answering
	// pusher:error when a connection exceeds the client-event rate.
	TerminateOnClientEventLimit bool

	// AllowedOrigins are exact origins or *.example.com patterns; empty
	// allows every origin.
	AllowedOrigins []string

	// RecoveryDisabled is the app policy connection_recovery.enabled=false,
	// which narrows the global switch (it cannot widen it).
	RecoveryDisabled bool
	// RecoveryMaxBufferSize overrides connection_recovery.max_buffer_size
	// for the app; 0 keeps the global value.
	RecoveryMaxBufferSize int
}

// maxChannelName returns the effective channel-name limit.
func (a *App) maxChannelName() int {
	if a.MaxChannelNameLength > 0 {
		return a.MaxChannelNameLength
	}
	return 200
}
