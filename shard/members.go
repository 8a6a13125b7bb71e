package shard

// Member is one distinct user of a presence channel.
type Member struct {
	ID   string
	Info []byte // raw JSON user_info
	// Conns counts this user's connections subscribed to the channel: the
	// user stays a member until the last one leaves.
	Conns int
}

// Members is the member set of one presence channel, in join order so
// subscription_succeeded lists are stable. Not safe for concurrent use: it
// lives inside a Map value and is guarded by that shard's lock.
type Members struct {
	list  []*Member
	index map[string]int
}

// Add counts one more connection of user id and reports whether the user is
// new to the channel (member_added is due). info is kept from the first join.
func (s *Members) Add(id string, info []byte) (added bool) {
	if i, ok := s.index[id]; ok {
		s.list[i].Conns++
		return false
	}
	if s.index == nil {
		s.index = make(map[string]int)
	}
	s.index[id] = len(s.list)
	s.list = append(s.list, &Member{ID: id, Info: info, Conns: 1})
	return true
}

// Remove counts one connection of user id less and reports whether that
// was its last (member_removed is due).
func (s *Members) Remove(id string) (removed bool) {
	i, ok := s.index[id]
	if !ok {
		return false
	}
	m := s.list[i]
	if m.Conns--; m.Conns > 0 {
		return false
	}
	last := len(s.list) - 1
	if i != last {
		s.list[i] = s.list[last]
		s.index[s.list[i].ID] = i
	}
	s.list[last] = nil
	s.list = s.list[:last]
	delete(s.index, id)
	return true
}

// Has reports whether id is a member.
func (s *Members) Has(id string) bool {
	_, ok := s.index[id]
	return ok
}

// Len is the number of distinct users.
func (s *Members) Len() int { return len(s.list) }

// Each calls fn for every member; fn must not retain m past the lock.
func (s *Members) Each(fn func(m *Member)) {
	for _, m := range s.list {
		fn(m)
	}
}
