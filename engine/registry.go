package engine

// The node's registries, in RegistryLabels order. Each holds state only
// while something is subscribed, signed in or watched somewhere in the
// cluster (remembered reports: for a bounded time after a transition), so
// each goes back to zero when the cluster is idle; a value that only grows
// under channel churn is a leak.
const (
	RegistryChannels          = iota // channels with subscribers or members on any node
	RegistryUsers                    // users signed in on any node
	RegistryWatchedUsers             // users some connection of this node watches
	RegistryPeerChannels             // (node, channel) subscriber counts learned from other nodes
	RegistryPeerMembers              // (node, presence channel, user) held by other nodes
	RegistryPeerUsers                // (node, user) signed in on other nodes
	RegistryRememberedReports        // webhooks kept for an owner's death or the node's settling
	numRegistries
)

// RegistryLabels are the registry labels, indexed like Registries.
var RegistryLabels = [numRegistries]string{
	"channels", "users", "watched_users", "peer_channels", "peer_members", "peer_users", "remembered_reports",
}

// Registries returns the entries each registry holds now.
func (e *Engine) Registries() [numRegistries]int64 {
	var r [numRegistries]int64
	r[RegistryChannels] = int64(e.channels.Len())
	r[RegistryUsers] = int64(e.users.Len())
	r[RegistryWatchedUsers] = int64(e.watchers.Len())
	c := e.cluster
	c.mu.Lock()
	for _, p := range c.peers {
		r[RegistryPeerChannels] += int64(len(p.counts))
		for _, set := range p.members {
			r[RegistryPeerMembers] += int64(len(set))
		}
		r[RegistryPeerUsers] += int64(len(p.users))
	}
	c.mu.Unlock()
	c.hmu.Lock()
	r[RegistryRememberedReports] = int64(len(c.leftTo) + len(c.deferred))
	c.hmu.Unlock()
	return r
}

// pendingLen is the number of channels and apps whose counts wait for the
// next coalesced announcement.
func (c *cluster) pendingLen() int {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return len(c.pendingChan) + len(c.pendingApp)
}
