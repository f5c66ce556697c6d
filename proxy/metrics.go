package proxy

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics exposes the proxy's state to Prometheus with the names of
// HAProxy's own exporter (addons/promex). It reads snapshots when scraped,
// so it adds nothing to the data path.
//
// Four server metrics are this proxy's own, for the load health checks put
// on each server; HAProxy's exporter has no such names (its check metrics
// are check_status, check_code, check_duration_seconds,
// check_failures_total, check_up_down_total and check_last_change_seconds):
//
//	haproxy_server_check_started_total         checks started
//	haproxy_server_check_completed_total       checks that reached a result, passed or failed
//	haproxy_server_check_sent_bytes_total      bytes the checks wrote to the server
//	haproxy_server_check_received_bytes_total  bytes the checks read from the server
//
// Like HAProxy's check metrics, they are exported for checked servers only.
type metrics struct {
	p *Proxy
	// reg always holds the collector, for the stats section's exporter
	// path; ext is the caller's registerer, if any.
	reg *prometheus.Registry
	ext prometheus.Registerer
	c   *collector
}

func newMetrics(p *Proxy, ext prometheus.Registerer) *metrics {
	m := &metrics{p: p, reg: prometheus.NewRegistry(), ext: ext, c: &collector{p: p}}
	m.reg.MustRegister(m.c)
	if ext != nil {
		if err := ext.Register(m.c); err != nil {
			p.log.Warn("register metrics", "err", err)
			m.ext = nil
		}
	}
	return m
}

func (m *metrics) unregister() {
	if m != nil && m.ext != nil {
		m.ext.Unregister(m.c)
	}
}

// handler serves the metrics in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("haproxy_"+name, help, labels, nil)
}

var (
	srvLabels = []string{"proxy", "server"}
	pxLabels  = []string{"proxy"}

	dServerStatus      = desc("server_status", "Current status of the server, per state label value (1 for the current state).", "proxy", "server", "state")
	dServerCurSess     = desc("server_current_sessions", "Number of current sessions.", srvLabels...)
	dServerMaxSess     = desc("server_max_sessions", "Maximum observed number of active sessions.", srvLabels...)
	dServerLimitSess   = desc("server_limit_sessions", "Configured session limit.", srvLabels...)
	dServerSessTot     = desc("server_sessions_total", "Total number of sessions.", srvLabels...)
	dServerBytesIn     = desc("server_bytes_in_total", "Current total of incoming bytes.", srvLabels...)
	dServerBytesOut    = desc("server_bytes_out_total", "Current total of outgoing bytes.", srvLabels...)
	dServerCheckFail   = desc("server_check_failures_total", "Total number of failed check (Only when the server is up).", srvLabels...)
	dServerCheckUpDown = desc("server_check_up_down_total", "Total number of UP->DOWN transitions.", srvLabels...)
	dServerCheckDur    = desc("server_check_duration_seconds", "Previously run health check duration, in seconds.", srvLabels...)
	dServerCheckStatus = desc("server_check_status", "Status of last health check, per state label value.", "proxy", "server", "state")
	dServerLastChange  = desc("server_check_last_change_seconds", "Number of seconds since the last UP<->DOWN transition.", srvLabels...)
	dServerDowntime    = desc("server_downtime_seconds_total", "Total downtime (in seconds) for the service.", srvLabels...)
	dServerWeight      = desc("server_weight", "Service weight.", srvLabels...)
	dServerConnErr     = desc("server_connection_errors_total", "Total number of connection errors.", srvLabels...)
	dServerRetry       = desc("server_retry_warnings_total", "Total number of retry warnings.", srvLabels...)
	dServerRedispatch  = desc("server_redispatch_warnings_total", "Total number of redispatch warnings.", srvLabels...)

	// Extensions (see metrics): HAProxy does not count its checks' load.
	dServerCheckStarted  = desc("server_check_started_total", "Total number of health checks started (redisha extension).", srvLabels...)
	dServerCheckDone     = desc("server_check_completed_total", "Total number of health checks that reached a result, passed or failed (redisha extension).", srvLabels...)
	dServerCheckSent     = desc("server_check_sent_bytes_total", "Total bytes health checks wrote to the server (redisha extension).", srvLabels...)
	dServerCheckReceived = desc("server_check_received_bytes_total", "Total bytes health checks read from the server (redisha extension).", srvLabels...)

	dBackendStatus   = desc("backend_status", "Current status of the service, per state label value.", "proxy", "state")
	dBackendActive   = desc("backend_active_servers", "Current number of active servers.", pxLabels...)
	dBackendBackup   = desc("backend_backup_servers", "Current number of backup servers.", pxLabels...)
	dBackendCurSess  = desc("backend_current_sessions", "Number of current sessions.", pxLabels...)
	dBackendSessTot  = desc("backend_sessions_total", "Total number of sessions.", pxLabels...)
	dBackendBytesIn  = desc("backend_bytes_in_total", "Current total of incoming bytes.", pxLabels...)
	dBackendBytesOut = desc("backend_bytes_out_total", "Current total of outgoing bytes.", pxLabels...)
	dBackendUpDown   = desc("backend_check_up_down_total", "Total number of UP->DOWN transitions.", pxLabels...)
	dBackendDowntime = desc("backend_downtime_seconds_total", "Total downtime (in seconds) for the service.", pxLabels...)

	dFrontendCurSess  = desc("frontend_current_sessions", "Number of current sessions.", pxLabels...)
	dFrontendMaxSess  = desc("frontend_max_sessions", "Maximum observed number of active sessions.", pxLabels...)
	dFrontendSessTot  = desc("frontend_sessions_total", "Total number of sessions.", pxLabels...)
	dFrontendBytesIn  = desc("frontend_bytes_in_total", "Current total of incoming bytes.", pxLabels...)
	dFrontendBytesOut = desc("frontend_bytes_out_total", "Current total of outgoing bytes.", pxLabels...)
	dFrontendDenied   = desc("frontend_denied_connections_total", "Total number of denied connections: no server, queue timeout or failed connect.", pxLabels...)
)

// serverStates are the values of haproxy_server_status's state label.
var serverStates = []string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}

// checkStates are the values of haproxy_server_check_status's state label.
var checkStates = []string{"HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK"}

type collector struct{ p *Proxy }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	for _, f := range c.p.fronts {
		gauge(dFrontendCurSess, float64(f.cur.Load()), f.Name)
		gauge(dFrontendMaxSess, float64(f.max.Load()), f.Name)
		counter(dFrontendSessTot, float64(f.total.Load()), f.Name)
		counter(dFrontendBytesIn, float64(f.bytesIn.Load()), f.Name)
		counter(dFrontendBytesOut, float64(f.bytesOut.Load()), f.Name)
		counter(dFrontendDenied, float64(f.denied.Load()), f.Name)
	}
	for _, b := range c.p.backs {
		bs := b.State()
		for _, st := range []string{"DOWN", "UP"} {
			v := 0.0
			if (st == "UP") == bs.Up {
				v = 1
			}
			gauge(dBackendStatus, v, b.Name, st)
		}
		gauge(dBackendActive, float64(bs.Active), b.Name)
		gauge(dBackendBackup, float64(bs.Backup), b.Name)
		gauge(dBackendCurSess, float64(bs.Sessions), b.Name)
		counter(dBackendSessTot, float64(bs.TotalSess), b.Name)
		counter(dBackendBytesIn, float64(b.bytesIn.Load()), b.Name)
		counter(dBackendBytesOut, float64(b.bytesOut.Load()), b.Name)
		counter(dBackendUpDown, float64(bs.DownTrans), b.Name)
		counter(dBackendDowntime, bs.Downtime.Seconds(), b.Name)
		for _, s := range b.Servers() {
			l := []string{b.Name, s.Name}
			cur := promState(s)
			for _, st := range serverStates {
				v := 0.0
				if st == cur {
					v = 1
				}
				gauge(dServerStatus, v, b.Name, s.Name, st)
			}
			gauge(dServerCurSess, float64(s.Sessions), l...)
			gauge(dServerMaxSess, float64(s.MaxSess), l...)
			gauge(dServerLimitSess, float64(s.SessLimit), l...)
			counter(dServerSessTot, float64(s.TotalSess), l...)
			counter(dServerBytesIn, float64(s.BytesIn), l...)
			counter(dServerBytesOut, float64(s.BytesOut), l...)
			gauge(dServerWeight, float64(s.Weight), l...)
			counter(dServerConnErr, float64(s.ConnErrors), l...)
			counter(dServerRetry, float64(s.Retries), l...)
			counter(dServerRedispatch, float64(s.Redispatch), l...)
			counter(dServerDowntime, s.Downtime.Seconds(), l...)
			gauge(dServerLastChange, now.Sub(s.LastChange).Seconds(), l...)
			if s.Checked {
				counter(dServerCheckFail, float64(s.CheckFails), l...)
				counter(dServerCheckUpDown, float64(s.DownTrans), l...)
				gauge(dServerCheckDur, s.LastCheck.Duration.Seconds(), l...)
				counter(dServerCheckStarted, float64(s.ChecksStarted), l...)
				counter(dServerCheckDone, float64(s.ChecksDone), l...)
				counter(dServerCheckSent, float64(s.CheckBytesSent), l...)
				counter(dServerCheckReceived, float64(s.CheckBytesReceived), l...)
				code := s.LastCheck.Status.Code()
				for _, st := range checkStates {
					v := 0.0
					if st == code {
						v = 1
					}
					gauge(dServerCheckStatus, v, b.Name, s.Name, st)
				}
			}
		}
	}
}

// promState maps a server's state to the exporter's state label.
func promState(s ServerState) string {
	switch {
	case s.Admin == AdminMaint:
		return "MAINT"
	case !s.Up:
		return "DOWN"
	case s.Admin == AdminDrain:
		return "DRAIN"
	}
	return "UP"
}
