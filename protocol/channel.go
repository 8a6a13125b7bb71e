package protocol

import "strings"

// Kind is the access type of a channel, decided by its name prefix.
type Kind uint8

// Channel kinds. Cache variants keep the kind of their base type and are
// reported separately by ParseChannel.
const (
	KindPublic       Kind = iota
	KindPrivate           // private-, private-cache-
	KindPresence          // presence-, presence-cache-
	KindEncrypted         // private-encrypted-, private-encrypted-cache-
	KindServerToUser      // #server-to-user-{id}
)

// ServerToUserPrefix names the per-user channel of signed-in connections.
const ServerToUserPrefix = "#server-to-user-"

// DefaultMaxChannelNameLength is the channel (and event) name limit both
// official SDKs enforce.
const DefaultMaxChannelNameLength = 200

// ParseChannel classifies name by its anchored prefix: private-encrypted-
// is checked before private-; cache- , private-cache-,
// private-encrypted-cache- and presence-cache- set cache. It does not
// validate the name.
func ParseChannel(name string) (kind Kind, cache bool) {
	switch {
	case strings.HasPrefix(name, "private-"):
		rest := name[len("private-"):]
		if strings.HasPrefix(rest, "encrypted-") {
			return KindEncrypted, strings.HasPrefix(rest[len("encrypted-"):], "cache-")
		}
		return KindPrivate, strings.HasPrefix(rest, "cache-")
	case strings.HasPrefix(name, "presence-"):
		return KindPresence, strings.HasPrefix(name[len("presence-"):], "cache-")
	case strings.HasPrefix(name, "cache-"):
		return KindPublic, true
	case strings.HasPrefix(name, ServerToUserPrefix):
		return KindServerToUser, false
	}
	return KindPublic, false
}

// nameCharsLo and nameCharsHi are the bitmap of [A-Za-z0-9_\-=@,.;] for
// bytes 0–63 and 64–127: constants, so the check needs no table in memory.
const (
	nameCharsLo uint64 = 1<<'-' | 1<<',' | 1<<'.' | 1<<';' | 1<<'=' | (1<<10-1)<<'0'
	nameCharsHi uint64 = 1<<('@'-64) | 1<<('_'-64) | (1<<26-1)<<('A'-64) | (1<<26-1)<<('a'-64)
)

// nameChar reports whether c may appear in a channel or event name.
func nameChar(c byte) bool {
	switch {
	case c < 64:
		return nameCharsLo>>c&1 == 1
	case c < 128:
		return nameCharsHi>>(c-64)&1 == 1
	}
	return false
}

// ValidChannelName reports whether name is 1..maxLen bytes of
// [A-Za-z0-9_\-=@,.;]. Names starting with '#' are invalid here; the
// server-to-user channel is checked by the caller.
func ValidChannelName(name string, maxLen int) bool {
	if len(name) == 0 || len(name) > maxLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameChar(name[i]) {
			return false
		}
	}
	return true
}

// ServerToUserID returns the user id of a #server-to-user-{id} channel.
func ServerToUserID(name string) (id string, ok bool) {
	id, ok = strings.CutPrefix(name, ServerToUserPrefix)
	if !ok || id == "" {
		return "", false
	}
	return id, true
}

// RequiresAuth reports whether subscribing needs a signature.
func (k Kind) RequiresAuth() bool { return k == KindPrivate || k == KindPresence || k == KindEncrypted }

// Label is the metrics label of the kind: public, private, presence,
// private_encrypted, server_to_user.
func (k Kind) Label() string {
	switch k {
	case KindPublic:
		return "public"
	case KindPrivate:
		return "private"
	case KindPresence:
		return "presence"
	case KindEncrypted:
		return "private_encrypted"
	case KindServerToUser:
		return "server_to_user"
	}
	return "unknown"
}
