package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/stream"
)

// adminClient is a kadm client to the cluster k describes, with its TLS and
// SASL, for creating topics before the pipeline starts.
func adminClient(k stream.Kafka, log *zap.Logger) (*kadm.Client, func(), error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(k.ClientID + "-admin"),
		kgo.WithLogger(kzap.New(log, kzap.Level(kgo.LogLevelWarn))),
	}
	if k.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(k.TLS))
	}
	switch k.SASL.Mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASL.User, Pass: k.SASL.Password}.AsSha512Mechanism()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka admin client: %w", err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// ensureTopics creates the missing topics of names, retrying with backoff
// (capped at maxBackoff) and logging while the cluster is unreachable. It
// gives up only on an error that retrying cannot fix (authorization, a
// rejected topic config, a TLS certificate) or when ctx is done, returning
// ctx.Err().
func ensureTopics(ctx context.Context, adm *kadm.Client, names []string, partitions int32, replication int16, maxBackoff time.Duration, log *zap.Logger) error {
	backoff := 100 * time.Millisecond
	for {
		err := stream.EnsureTopics(ctx, adm, names, partitions, replication, log)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(err) {
			return err
		}
		log.Warn("cannot reach the cluster to create topics; retrying", zap.Error(err), zap.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryable reports whether creating topics may succeed if tried again:
// anything but a Kafka error the protocol marks as final, or a failed TLS
// certificate check.
func retryable(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	var cv *tls.CertificateVerificationError
	return !errors.As(err, &cv)
}
