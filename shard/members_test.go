package shard

import "testing"

func TestMembersCountsConnectionsPerUser(t *testing.T) {
	var s Members
	step := func(op, id string, wantFirst, wantLocal bool) {
		t.Helper()
		var first, local bool
		if op == "add" {
			first, local = s.Add(id, []byte(`{}`))
		} else {
			first, local = s.Remove(id)
		}
		if first != wantFirst || local != wantLocal {
			t.Fatalf("%s %s = %v %v, want %v %v", op, id, first, local, wantFirst, wantLocal)
		}
	}
	step("add", "u1", true, true)
	step("add", "u1", false, false) // second tab: no member_added
	step("add", "u2", true, true)
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2 distinct users", s.Len())
	}
	step("remove", "u1", false, false) // one tab left
	if !s.Has("u1") || !s.Local("u1") {
		t.Fatal("u1 removed while a connection remains")
	}
	step("remove", "u1", true, true)
	step("remove", "u1", false, false) // unknown now
	step("remove", "u2", true, true)
	if s.Len() != 0 || s.Has("u2") {
		t.Fatal("members left after every user left")
	}
}

func TestMembersRemoteHolders(t *testing.T) {
	var s Members
	if !s.AddRemote("u", nil) {
		t.Fatal("first remote holder is not a new member")
	}
	if first, local := s.Add("u", nil); first || !local {
		t.Fatalf("local join of a remote member: first %v local %v", first, local)
	}
	if last, local := s.Remove("u"); last || !local {
		t.Fatalf("local leave with a remote holder: last %v local %v", last, local)
	}
	if s.Local("u") || !s.Has("u") {
		t.Fatal("member state wrong after the local leave")
	}
	if s.RemoveRemote("x") {
		t.Fatal("removing an unknown remote holder reported a leave")
	}
	if !s.RemoveRemote("u") || s.Len() != 0 {
		t.Fatal("last remote holder did not remove the member")
	}
}

func TestMembersRemoveKeepsIndexConsistent(t *testing.T) {
	var s Members
	for _, id := range []string{"a", "b", "c", "d"} {
		s.Add(id, nil)
	}
	s.Remove("a") // d moves into a's slot
	var ids []string
	s.Each(func(m *Member) { ids = append(ids, m.ID) })
	if len(ids) != 3 {
		t.Fatalf("ids = %v", ids)
	}
	for _, id := range []string{"b", "c", "d"} {
		if last, _ := s.Remove(id); !last {
			t.Fatalf("remove %s after a swap failed", id)
		}
	}
}

// LocalInfo answers only while this node holds the user: a user held by
// other nodes alone is not this node's to announce.
func TestMembersLocalInfo(t *testing.T) {
	var s Members
	s.AddRemote("u1", []byte(`{"n":1}`))
	if _, ok := s.LocalInfo("u1"); ok {
		t.Fatal("LocalInfo of a user only other nodes hold")
	}
	s.Add("u1", []byte(`{"n":2}`))
	if info, ok := s.LocalInfo("u1"); !ok || string(info) != `{"n":1}` {
		t.Fatalf("LocalInfo = %s %v, want the info kept from the first join", info, ok)
	}
	s.Remove("u1")
	if _, ok := s.LocalInfo("u1"); ok || !s.Has("u1") {
		t.Fatal("LocalInfo after the last local connection left")
	}
	if _, ok := s.LocalInfo("nobody"); ok {
		t.Fatal("LocalInfo of an unknown user")
	}
}
