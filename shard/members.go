package shard

// Member is one distinct user of a presence channel.
type Member struct {
	ID   string
	Info []byte // raw JSON user_info
	// Conns counts this node's connections of the user in the channel and
	// Remote the other nodes that hold the user: the user stays a member
	// until both are zero.
	Conns  int
	Remote int
}

func (m *Member) holders() int { return m.Conns + m.Remote }

// Members is the member set of one presence channel, in join order so
// subscription_succeeded lists are stable. Not safe for concurrent use: it
// lives inside a Map value and is guarded by that shard's lock.
type Members struct {
	list  []*Member
	index map[string]int
}

// Add counts one more local connection of user id. first reports that the
// user is new to the channel (member_added is due), local that it is this
// node's first connection of the user (other nodes must be told). info is
// kept from the first join.
func (s *Members) Add(id string, info []byte) (first, local bool) {
	m, first := s.get(id, info)
	m.Conns++
	return first, m.Conns == 1
}

// AddRemote counts one more node holding user id and reports whether the
// user is new to the channel.
func (s *Members) AddRemote(id string, info []byte) (first bool) {
	m, first := s.get(id, info)
	m.Remote++
	return first
}

// Remove counts one local connection of user id less. last reports that
// no connection anywhere holds the user any more (member_removed is due),
// local that this node no longer holds it.
func (s *Members) Remove(id string) (last, local bool) {
	i, ok := s.index[id]
	if !ok || s.list[i].Conns == 0 {
		return false, false
	}
	m := s.list[i]
	m.Conns--
	local = m.Conns == 0
	return s.dropIfEmpty(i), local
}

// RemoveRemote counts one node less holding user id and reports whether
// that was the last holder.
func (s *Members) RemoveRemote(id string) (last bool) {
	i, ok := s.index[id]
	if !ok || s.list[i].Remote == 0 {
		return false
	}
	s.list[i].Remote--
	return s.dropIfEmpty(i)
}

func (s *Members) get(id string, info []byte) (*Member, bool) {
	if i, ok := s.index[id]; ok {
		return s.list[i], false
	}
	if s.index == nil {
		s.index = make(map[string]int)
	}
	m := &Member{ID: id, Info: info}
	s.index[id] = len(s.list)
	s.list = append(s.list, m)
	return m, true
}

func (s *Members) dropIfEmpty(i int) bool {
	m := s.list[i]
	if m.holders() > 0 {
		return false
	}
	last := len(s.list) - 1
	if i != last {
		s.list[i] = s.list[last]
		s.index[s.list[i].ID] = i
	}
	s.list[last] = nil
	s.list = s.list[:last]
	delete(s.index, m.ID)
	return true
}

// Has reports whether id is a member.
func (s *Members) Has(id string) bool {
	_, ok := s.index[id]
	return ok
}

// Local reports whether this node holds id.
func (s *Members) Local(id string) bool {
	i, ok := s.index[id]
	return ok && s.list[i].Conns > 0
}

// LocalInfo returns the user_info of id while this node holds it.
func (s *Members) LocalInfo(id string) ([]byte, bool) {
	i, ok := s.index[id]
	if !ok || s.list[i].Conns == 0 {
		return nil, false
	}
	return s.list[i].Info, true
}

// Len is the number of distinct users.
func (s *Members) Len() int { return len(s.list) }

// Each calls fn for every member; fn must not retain m past the lock.
func (s *Members) Each(fn func(m *Member)) {
	for _, m := range s.list {
		fn(m)
	}
}
