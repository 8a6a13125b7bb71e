package protocol

// Member is a presence member: the user id always as a string (numbers are
// stringified) and user_info as raw JSON ("{}" when absent or null).
type Member struct {
	UserID   string
	UserInfo []byte
}

// DecodePresenceMember decodes presence channel_data {"user_id":..,
// "user_info":..}. user_id may be a string or a number; empty → ErrBadData.
// Member names are matched exactly (unlike encoding/json, which ignores
// case), as JSON.parse-based servers do.
func DecodePresenceMember(channelData string, m *Member) error {
	*m = Member{}
	s := scanner{b: aliasBytes(channelData)}
	if !s.open('{') {
		return ErrBadData
	}
	var kbuf [keyBuf]byte
	idOK := false
	for n := 0; ; {
		key, ok := s.member(&n, &kbuf)
		if !ok {
			break
		}
		switch string(key) {
		case "user_id":
			m.UserID, idOK = s.id()
		case "user_info":
			m.UserInfo = s.rawCopy()
		default:
			s.value()
		}
	}
	if !s.end() || !idOK || m.UserID == "" {
		*m = Member{}
		return ErrBadData
	}
	if m.UserInfo == nil {
		m.UserInfo = []byte("{}")
	}
	return nil
}

// UserData is the decoded signin user_data: id (string or number,
// stringified, required), user_info (raw JSON, "{}" when absent) and
// watchlist (ids stringified).
type UserData struct {
	ID        string
	UserInfo  []byte
	Watchlist []string
}

// DecodeUserData decodes signin user_data. A missing or empty id → ErrBadData.
// user_info null counts as absent; watchlist must be an array of strings or
// numbers, or null.
func DecodeUserData(userData string, u *UserData) error {
	*u = UserData{}
	s := scanner{b: aliasBytes(userData)}
	if !s.open('{') {
		return ErrBadData
	}
	var kbuf [keyBuf]byte
	idOK, listOK := false, true
	for n := 0; ; {
		key, ok := s.member(&n, &kbuf)
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			u.ID, idOK = s.id()
		case "user_info":
			u.UserInfo = s.rawCopy()
		case "watchlist":
			u.Watchlist, listOK = s.ids()
		default:
			s.value()
		}
	}
	if !s.end() || !idOK || !listOK || u.ID == "" {
		*u = UserData{}
		return ErrBadData
	}
	if u.UserInfo == nil {
		u.UserInfo = []byte("{}")
	}
	return nil
}

// id reads a user id: a string (copied) or a number (stringified).
func (s *scanner) id() (string, bool) {
	if c := s.peek(); c == '-' || c >= '0' && c <= '9' {
		raw := s.value()
		return numberString(raw), !s.bad
	}
	v, kind := s.stringOrSkip(false)
	return v, kind == kindString
}

// rawCopy reads any value and returns a copy of its JSON, nil for null.
func (s *scanner) rawCopy() []byte {
	raw := s.value()
	if raw == nil || string(raw) == "null" {
		return nil
	}
	return append([]byte(nil), raw...)
}

// ids reads null or an array of ids.
func (s *scanner) ids() ([]string, bool) {
	if s.peek() == 'n' {
		s.literal("null")
		return nil, true
	}
	if !s.open('[') {
		return nil, false
	}
	list := []string{}
	for n := 0; s.next(&n, ']'); {
		id, ok := s.id()
		if !ok {
			return nil, false
		}
		list = append(list, id)
	}
	return list, !s.bad
}
