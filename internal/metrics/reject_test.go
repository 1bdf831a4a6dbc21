package metrics_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// Records every replica skips are counted: the applier's rejected ops, its
// pause (a gauge that follows the latest report), and the billing view's
// folded, malformed and rejected records (issue 11, items 1, 4 and 5).
func TestObserveRejectsAndPause(t *testing.T) {
	m := metrics.New(metrics.Config{})
	reg := m.Registry()
	assert.Equal(t, 0.0, value(t, reg, "resolver_identity_ops_total", map[string]string{"result": "rejected"}), "the series exists from the start")
	assert.Equal(t, 0.0, value(t, reg, "resolver_applier_paused", nil))
	assert.Equal(t, 0.0, value(t, reg, "resolver_billing_deltas_total", map[string]string{"result": "rejected"}))

	m.ObserveApply(&stream.ApplyReport{Applied: 1, Rejected: 2, Malformed: 1, Paused: true})
	assert.Equal(t, 2.0, value(t, reg, "resolver_identity_ops_total", map[string]string{"result": "rejected"}))
	assert.Equal(t, 1.0, value(t, reg, "resolver_applier_paused", nil))
	m.ObserveApply(&stream.ApplyReport{Applied: 1})
	assert.Equal(t, 0.0, value(t, reg, "resolver_applier_paused", nil))

	m.ObserveBilling(&stream.BillingReport{Folded: 5, Malformed: 1, Rejected: 3})
	m.ObserveBilling(&stream.BillingReport{Folded: 1})
	assert.Equal(t, 6.0, value(t, reg, "resolver_billing_deltas_total", map[string]string{"result": "folded"}))
	assert.Equal(t, 1.0, value(t, reg, "resolver_billing_deltas_total", map[string]string{"result": "malformed"}))
	assert.Equal(t, 3.0, value(t, reg, "resolver_billing_deltas_total", map[string]string{"result": "rejected"}))
}
