package shard

import "testing"

func TestMembersCountsConnectionsPerUser(t *testing.T) {
	var s Members
	step := func(op string, id string, want bool) {
		t.Helper()
		var got bool
		if op == "add" {
			got = s.Add(id, []byte(`{}`))
		} else {
			got = s.Remove(id)
		}
		if got != want {
			t.Fatalf("%s %s = %v, want %v", op, id, got, want)
		}
	}
	step("add", "u1", true)
	step("add", "u1", false) // second tab: no member_added
	step("add", "u2", true)
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2 distinct users", s.Len())
	}
	step("remove", "u1", false) // one tab left
	if !s.Has("u1") {
		t.Fatal("u1 removed while a connection remains")
	}
	step("remove", "u1", true)
	step("remove", "u1", false) // unknown now
	step("remove", "u2", true)
	if s.Len() != 0 || s.Has("u2") {
		t.Fatal("members left after every user left")
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
		if !s.Remove(id) {
			t.Fatalf("remove %s after a swap failed", id)
		}
	}
}
