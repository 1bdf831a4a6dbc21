package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errTestStopped = errors.New("test follower stopped")

// A wait returns once every partition it names has been folded past its
// offset, whichever goroutine advances; a stuck partition returns at once;
// ctx and a stopped follower end it with their errors.
func TestFollowerWait(t *testing.T) {
	f := newFollower("t", map[int32]int64{0: 5}, errTestStopped)
	past := func(_ int32, next, want int64) progress {
		if next > want {
			return waitReached
		}
		return waitBehind
	}

	stuck, err := f.wait(t.Context(), map[int32]int64{0: 4}, past)
	require.NoError(t, err)
	assert.False(t, stuck, "already there")

	done := make(chan error, 1)
	go func() {
		_, err := f.wait(t.Context(), map[int32]int64{0: 9, 1: 0}, past)
		done <- err
	}()
	f.advance(map[int32]int64{0: 10})
	select {
	case err := <-done:
		t.Fatalf("returned before partition 1 was folded: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	f.advance(map[int32]int64{1: 1})
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not see the advance")
	}
	assert.Equal(t, map[int32]int64{0: 10, 1: 1}, f.offsets())

	stuck, err = f.wait(t.Context(), map[int32]int64{0: 100}, func(int32, int64, int64) progress { return waitStuck })
	require.NoError(t, err)
	assert.True(t, stuck)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = f.wait(ctx, map[int32]int64{0: 100}, past)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	go func() {
		_, err := f.wait(t.Context(), map[int32]int64{0: 100}, past)
		done <- err
	}()
	require.NoError(t, f.health())
	cause := errors.New("disk on fire")
	err = f.finish(cause)
	require.ErrorIs(t, err, errTestStopped)
	require.ErrorIs(t, err, cause)
	select {
	case err := <-done:
		require.ErrorIs(t, err, errTestStopped, "a stopped follower ends its waits with why it stopped")
		require.ErrorIs(t, err, cause)
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not see the stop")
	}
	require.ErrorIs(t, f.health(), cause)
}

// A follower that stops without an error (ctx done) says so in health, and
// finish returns nil.
func TestFollowerFinishClean(t *testing.T) {
	f := newFollower("t", nil, errTestStopped)
	require.NoError(t, f.finish(nil))
	require.ErrorIs(t, f.health(), errTestStopped)
	assert.Contains(t, f.health().Error(), "shutting down")
	<-f.done()
}
