package stream

import "time"

// minRebalanceTimeout is the floor of rebalanceTimeout.
const minRebalanceTimeout = 15 * time.Second

// rebalanceTimeout is the group's rebalance timeout for a session timeout:
// twice the session timeout, at least 15s, instead of kgo's 60s default.
//
// It bounds how long members may take to rejoin once a rebalance starts
// (finishing the batch in hand is well under a second), and it is also how
// long kgo waits for a SyncGroup answer. It is short because of the
// embedded broker: kfake's classic group coordinator, when the previous
// leader is gone at the end of a join, tells every member that it is the
// leader and keeps the last one it told — possibly an instance that was
// killed during the join. The live members then wait in SyncGroup for a
// leader that never syncs, are expired for missing heartbeats meanwhile
// (which leaves their SyncGroup unanswered), and the group stays wedged
// until the rebalance timeout: with kgo's default, over a minute after a
// crash during a rebalance. With this one it recovers in well under a
// minute. (Seen in TestClusterKill9 in cmd/resolver: 2 of 6 runs stalled
// for over 60s before, 0 of 8 after; kfake
// v0.0.0-20260918054303-01f206a7e32c, groups.go completeRebalance.)
//
// Under the consumer group protocol (KIP-848) it is how long a member may
// take to release the partitions the broker revokes before the broker
// fences it: the batch in hand, then its commit, as above.
func rebalanceTimeout(session time.Duration) time.Duration {
	return max(2*session, minRebalanceTimeout)
}
