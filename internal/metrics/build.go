package metrics

import "github.com/prometheus/client_golang/prometheus"

// BuildInfo is what a binary was built from: the labels of
// resolver_build_info. cmd/resolver fills it in (link-time values, else the
// embedded build info).
type BuildInfo struct {
	Version   string
	Commit    string
	GoVersion string
}

// buildInfoGauge is resolver_build_info: 1, with the build as labels, the
// Prometheus convention for joining a version onto other series
// (`* on(instance) group_left(version) resolver_build_info`). The values are
// bounded like any label (LabelValue); empty ones are "unknown".
func buildInfoGauge(b BuildInfo) prometheus.Gauge {
	label := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return LabelValue(s)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "resolver_build_info",
		Help: "Always 1; its labels are the version, commit and Go version this binary was built from (`resolver version`).",
		ConstLabels: prometheus.Labels{
			"version":   label(b.Version),
			"commit":    label(b.Commit),
			"goversion": label(b.GoVersion),
		},
	})
	g.Set(1)
	return g
}
