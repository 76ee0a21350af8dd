package taxii

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec   // route, method, code
	latency  *prometheus.HistogramVec // route, method
	served   *prometheus.CounterVec   // collection
	added    *prometheus.CounterVec   // collection
	rejected *prometheus.CounterVec   // collection
	lastPoll *prometheus.GaugeVec     // consumer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ctibroker_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_taxii_objects_served_total",
			Help: "STIX objects and manifest records served, by collection.",
		}, []string{"collection"}),
		added: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_taxii_objects_added_total",
			Help: "New object versions stored through TAXII POST, by collection.",
		}, []string{"collection"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_taxii_objects_rejected_total",
			Help: "Posted objects listed as failures in a status, by collection.",
		}, []string{"collection"}),
		lastPoll: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ctibroker_taxii_last_poll_timestamp_seconds",
			Help: "Unix time of each consumer's last successful objects or manifest request.",
		}, []string{"consumer"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.served, m.added, m.rejected, m.lastPoll} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
