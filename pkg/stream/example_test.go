package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// A pipeline against franz-go's in-process kfake broker (any Kafka will
// do): it creates its topics, consumes capture events from events_raw and
// writes each one stamped with its person to events_person, and the rows of
// the persons and distinct ids it changed to the warehouse feeds, exactly
// once. Run blocks until its context ends. The $identify here makes
// anon-1's implicit person explicit and identified, and joins user-42 to it
// (docs/SEMANTICS.md §4).
func Example() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	dir, err := os.MkdirTemp("", "stream-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	st, err := state.Open(dir, state.Options{}) // the instance's replica
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	cfg := stream.DefaultConfig()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.TopicPartitions = 1
	p, err := stream.New(cfg, st, nil) // nil: no log
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Println(err)
		}
	}()
	select {
	case <-p.Started(): // caught up and in the group
	case err := <-done:
		fmt.Println(err)
		return
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumeTopics(cfg.Topics.Person, cfg.Topics.Persons, cfg.Topics.DistinctIDs),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: cfg.Topics.Raw, Value: []byte(
		`{"event":"$identify","distinct_id":"user-42","token":"phc_abc","timestamp":"2026-11-28T09:01:00Z",` +
			`"properties":{"$anon_distinct_id":"anon-1"},"$set":{"plan":"pro"}}`)}).FirstErr()
	if err != nil {
		fmt.Println(err)
		return
	}

	var lines []string
	readCtx, stopRead := context.WithTimeout(ctx, time.Minute)
	defer stopRead()
	for len(lines) < 4 {
		fetches := cl.PollFetches(readCtx)
		if err := fetches.Err0(); err != nil {
			fmt.Println(err)
			return
		}
		fetches.EachRecord(func(r *kgo.Record) {
			switch r.Topic {
			case cfg.Topics.Person:
				var ev struct {
					Event        string `json:"event"`
					DistinctID   string `json:"distinct_id"`
					PersonID     string `json:"person_id"`
					BillingClass string `json:"billing_class"`
				}
				_ = json.Unmarshal(r.Value, &ev)
				lines = append(lines, fmt.Sprintf("%s: %s %s %s %s", r.Topic, ev.Event, ev.DistinctID, ev.PersonID, ev.BillingClass))
			case cfg.Topics.Persons:
				var row stream.PersonRow
				_ = json.Unmarshal(r.Value, &row)
				lines = append(lines, fmt.Sprintf("%s: %s %s identified=%v version=%d", r.Topic, row.ID, row.Properties, row.IsIdentified, row.Version))
			case cfg.Topics.DistinctIDs:
				var row stream.DistinctIDRow
				_ = json.Unmarshal(r.Value, &row)
				lines = append(lines, fmt.Sprintf("%s: %s %s version=%d", r.Topic, row.DistinctID, row.PersonID, row.Version))
			}
		})
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// events_person: $identify user-42 5e1cec5f-70d4-54df-b140-ac3d4b7a4990 identified
	// person_distinct_ids: anon-1 5e1cec5f-70d4-54df-b140-ac3d4b7a4990 version=0
	// person_distinct_ids: user-42 5e1cec5f-70d4-54df-b140-ac3d4b7a4990 version=1
	// persons: 5e1cec5f-70d4-54df-b140-ac3d4b7a4990 {"plan":"pro"} identified=true version=0
}

// Validate names the config key of every bad value, as configs/resolver.yaml
// spells it, each a *stream.ConfigError.
func ExampleConfig_Validate() {
	cfg := stream.DefaultConfig()
	cfg.Kafka.Brokers = []string{"localhost:9092", "kafka-2"}
	cfg.MaxBatchRecords = 0
	err := cfg.Validate()
	fmt.Println(err)
	var ce *stream.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Key, errors.Is(err, stream.ErrInvalidConfig))
	// Output:
	// stream: kafka.brokers[1]: "kafka-2": must be host:port
	// stream: stream.max_batch_records: 0: must be at least 1
	// true kafka.brokers[1] true
}
