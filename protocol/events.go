package protocol

// Event names of protocol v7 (pusher-protocol.md §1.2).
const (
	EventConnectionEstablished = "pusher:connection_established"
	EventError                 = "pusher:error"
	EventPing                  = "pusher:ping"
	EventPong                  = "pusher:pong"
	EventSubscribe             = "pusher:subscribe"
	EventUnsubscribe           = "pusher:unsubscribe"
	EventSignin                = "pusher:signin"
	EventSigninSuccess         = "pusher:signin_success"
	EventSubscriptionError     = "pusher:subscription_error"
	EventCacheMiss             = "pusher:cache_miss"
	EventSubscriptionSucceeded = "pusher_internal:subscription_succeeded"
	EventMemberAdded           = "pusher_internal:member_added"
	EventMemberRemoved         = "pusher_internal:member_removed"
	EventSubscriptionCount     = "pusher_internal:subscription_count"
	EventWatchlist             = "pusher_internal:watchlist_events"

	// ClientEventPrefix starts every event a client may send to a channel.
	ClientEventPrefix = "client-"
)
