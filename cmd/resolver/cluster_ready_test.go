package main

// The readiness bound of the cluster tests (issue 11, item 8): an instance
// restarted in the kill test answered /readyz 200 while its replica was
// thousands of identity_log records (12-17s) behind. A readyWatch asks
// every running instance's /readyz all through a test and checks every 200
// against the log's end as the test itself listed it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
)

// readyzBody is the JSON of /readyz.
type readyzBody struct {
	Status         string          `json:"status"`
	Reason         string          `json:"reason"`
	LagSeconds     float64         `json:"lag_seconds"`
	AppliedOffsets map[int32]int64 `json:"applied_offsets"`
}

// readyz asks the /readyz of the instance whose admin server listens on
// addr, with the admin token when token is not empty.
func readyz(ctx context.Context, addr, token string) (int, readyzBody, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return 0, readyzBody{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, readyzBody{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, readyzBody{}, err
	}
	var body readyzBody
	if err := json.Unmarshal(b, &body); err != nil {
		return 0, readyzBody{}, fmt.Errorf("/readyz of %s: %w: %s", addr, err, b)
	}
	return resp.StatusCode, body, nil
}

// adminAddr is the address the process's admin server listens on, from its
// "admin listening" log line; "" before it listens.
func (p *proc) adminAddr() string {
	v, _ := firstLogField(p.stderr.String(), "admin listening", "addr")
	s, _ := v.(string)
	return s
}

// listedEnds is identity_log's end offsets as the test listed them: the log
// held at least these when the answer came, at at.
type listedEnds struct {
	at   time.Time
	ends map[int32]int64
}

// readyWatch asks every running instance's /readyz every 100ms and lists
// identity_log's end offsets every 100ms, until stopped. Every 200 answer
// whose request was sent at t must carry applied offsets at or past the
// newest end offsets the test had listed by t - maxLag (the instance then
// claims to hold the log as of t - maxLag or later, and end offsets only
// grow).
type readyWatch struct {
	c      *cluster
	maxLag time.Duration
	stop   context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	lists      []listedEnds
	ready      map[string]int // 200 answers per process
	notReady   map[string]int // 503 answers per process
	maxReady   float64        // the highest lag_seconds of a 200 answer
	violations []string
}

// watchReadiness starts a readyWatch over the cluster's instances with the
// instances' readiness.max_lag (the config's default: the tests do not set
// it).
func (c *cluster) watchReadiness() *readyWatch {
	c.t.Helper()
	ctx, cancel := context.WithCancel(c.ctx)
	w := &readyWatch{c: c, maxLag: defaultConfig().Readiness.MaxLag, stop: cancel, done: make(chan struct{}),
		ready: map[string]int{}, notReady: map[string]int{}}
	adm := kadm.NewClient(c.client())
	var wg sync.WaitGroup
	wg.Go(func() { // the test's own listings of the log's end
		for ctx.Err() == nil {
			ends, err := adm.ListEndOffsets(ctx, "identity_log")
			if err == nil && ends.Error() == nil {
				m := map[int32]int64{}
				ends.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
				w.mu.Lock()
				w.lists = append(w.lists, listedEnds{time.Now(), m})
				w.mu.Unlock()
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
	})
	wg.Go(func() { // the instances' answers
		for ctx.Err() == nil {
			c.mu.Lock()
			procs := append([]*proc(nil), c.procs...)
			c.mu.Unlock()
			for _, p := range procs {
				if p == c.broker || p.exited() {
					continue
				}
				if addr := p.adminAddr(); addr != "" {
					w.ask(ctx, p.name, addr)
				}
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
	})
	go func() { wg.Wait(); close(w.done) }()
	c.t.Cleanup(w.halt)
	return w
}

// ask asks one instance and checks a 200 against the bound.
func (w *readyWatch) ask(ctx context.Context, name, addr string) {
	sent := time.Now()
	code, body, err := readyz(ctx, addr, w.c.adminToken)
	if err != nil {
		return // killed, or not serving yet
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if code != http.StatusOK {
		w.notReady[name]++
		return
	}
	w.ready[name]++
	w.maxReady = max(w.maxReady, body.LagSeconds)
	bound := w.boundLocked(sent.Add(-w.maxLag))
	var behind []string
	for p, end := range bound {
		if got := body.AppliedOffsets[p]; got < end {
			behind = append(behind, fmt.Sprintf("partition %d at %d < %d", p, got, end))
		}
	}
	if len(behind) > 0 {
		sort.Strings(behind)
		w.violations = append(w.violations, fmt.Sprintf("%s: /readyz 200 (lag_seconds %.3f) while behind the log's end of %v before: %s",
			name, body.LagSeconds, w.maxLag, strings.Join(behind, ", ")))
	}
}

// boundLocked is the newest listing the test had at cutoff, or nil.
func (w *readyWatch) boundLocked(cutoff time.Time) map[int32]int64 {
	var b map[int32]int64
	for _, l := range w.lists {
		if l.at.After(cutoff) {
			break
		}
		b = l.ends
	}
	return b
}

// halt stops the watch and waits for it.
func (w *readyWatch) halt() {
	w.stop()
	<-w.done
}

// check stops the watch and requires that no ready answer broke the bound
// and that every instance in want answered ready at least once.
func (w *readyWatch) check(want map[int]*proc) {
	c := w.c
	c.t.Helper()
	w.halt()
	w.mu.Lock()
	defer w.mu.Unlock()
	total, names := 0, make([]string, 0, len(w.ready))
	for n, k := range w.ready {
		total += k
		names = append(names, fmt.Sprintf("%s %d/%d", n, k, k+w.notReady[n]))
	}
	sort.Strings(names)
	c.t.Logf("readiness: %d answers 200 checked against the log's end of readiness.max_lag (%v) before; highest lag_seconds of a 200: %.3f; ready/answers per process: %s",
		total, w.maxLag, w.maxReady, strings.Join(names, ", "))
	for _, p := range want {
		assert.Positive(c.t, w.ready[p.name], "%s never answered /readyz 200", p.name)
	}
	assert.Empty(c.t, w.violations, "instances ready while further behind identity_log than readiness.max_lag")
}

// waitConverged waits, at most timeout, until every instance in insts
// answers /readyz 200 with applied offsets equal to identity_log's end
// offsets — the replicas hold the whole log, so their fingerprints agree —
// and returns how long that took.
func (c *cluster) waitConverged(insts map[int]*proc, timeout time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	var last []string
	deadline := start.Add(timeout)
	for {
		ends := c.logEnds()
		last = last[:0]
		for i := range len(insts) {
			p := insts[i]
			require.False(c.t, p.exited(), "%s exited: %v\n%s", p.name, p.err, tail(p.stderr.String(), 30))
			code, body, err := readyz(c.ctx, p.adminAddr(), c.adminToken)
			switch {
			case err != nil:
				last = append(last, fmt.Sprintf("%s: %v", p.name, err))
			case code != http.StatusOK:
				last = append(last, fmt.Sprintf("%s: %d %s", p.name, code, body.Reason))
			default:
				for part, end := range ends {
					if got := body.AppliedOffsets[part]; got != end {
						last = append(last, fmt.Sprintf("%s: partition %d applied to %d of %d", p.name, part, got, end))
					}
				}
			}
		}
		if len(last) == 0 {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("replicas not converged on identity_log's end %v after the input was done: %s", timeout, strings.Join(last, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sleepCtx sleeps d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
