package delta

// Sub is one subscription's delta record: which base the client holds,
// per conflation key. A few dozen bytes without conflation keys, so ten
// thousand delta subscribers of a ticker cost well under a megabyte. Not
// safe for concurrent use: the socket's owner calls it.
type Sub struct {
	ch   *Channel
	one  rec
	keys map[string]rec
}

// rec is the base a client holds for one key: the sequence of its last
// delta-path frame (0 = none) and the deltas sent since the last full one.
type rec struct {
	seq    uint64
	deltas uint32
}

// Reset forgets every base: the next frame of each key is full. The
// engine calls it on sockudo:delta_sync_error, on unsubscribe, and when a
// frame For returned was not delivered.
func (s *Sub) Reset() {
	s.one = rec{}
	s.keys = nil
}

// Keys is how many conflation keys s holds a base for.
func (s *Sub) Keys() int {
	if s.keys != nil {
		return len(s.keys)
	}
	if s.one.seq != 0 {
		return 1
	}
	return 0
}

func (s *Sub) load(ch *Channel, key string, hasKey bool) rec {
	if s.ch != ch {
		// records of another Channel (say one dropped and recreated)
		// name sequences this one never issued
		s.Reset()
		s.ch = ch
	}
	if !hasKey {
		return s.one
	}
	return s.keys[key]
}

// store saves r for key, evicting the key with the oldest base when s
// already holds max keys.
func (s *Sub) store(key string, hasKey bool, r rec, max int) {
	if !hasKey {
		s.one = r
		return
	}
	if s.keys == nil {
		s.keys = make(map[string]rec, 4)
	}
	if _, ok := s.keys[key]; !ok && len(s.keys) >= max {
		var oldest string
		low := ^uint64(0)
		for k, v := range s.keys {
			if v.seq < low {
				oldest, low = k, v.seq
			}
		}
		delete(s.keys, oldest)
	}
	s.keys[key] = r
}

// Budget counts the channel states one socket holds against
// max_channel_states_per_socket. Not safe for concurrent use.
type Budget struct {
	used, max int
}

// NewBudget returns a budget of max channel states.
func NewBudget(max int) Budget { return Budget{max: max} }

// Acquire takes one state; false when the socket is at its limit, and the
// subscription then gets plain frames.
func (b *Budget) Acquire() bool {
	if b.used >= b.max {
		return false
	}
	b.used++
	return true
}

// Release gives one state back (unsubscribe, socket gone).
func (b *Budget) Release() {
	if b.used > 0 {
		b.used--
	}
}

// Used is the number of states held.
func (b *Budget) Used() int { return b.used }

// Allowed decides whether a subscription receives deltas (reference
// §12.1): V2 socket, JSON wire format (the client's base never lines up
// with MessagePack or Protobuf), not an encrypted channel, deltas on for
// the channel (Config.ChannelOptions), and the subscription's own `delta`
// setting, else the socket's (sockudo:enable_delta_compression).
func Allowed(channel string, v2, jsonFormat, channelEnabled, socketEnabled bool, sub SubSetting) bool {
	if !v2 || !jsonFormat || !channelEnabled || isEncrypted(channel) {
		return false
	}
	if sub.Given {
		return sub.Enabled
	}
	return socketEnabled
}

func isEncrypted(channel string) bool {
	const p = "private-encrypted-"
	return len(channel) >= len(p) && channel[:len(p)] == p
}

// Pick returns the algorithm of a subscription: its own, else the
// channel's (from Config.ChannelOptions).
func Pick(sub SubSetting, channel Algorithm) Algorithm {
	if sub.HasAlgorithm {
		return sub.Algorithm
	}
	return channel
}
