package sweep

import (
	"context"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/model"
	"github.com/redisha-sim/redisha-sim/sim/scenario"
	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// Run is one run of a point.
type Run struct {
	Point   int                `json:"point"`
	Repeat  int                `json:"repeat"`
	Err     string             `json:"error,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Unknown names metrics the run could not measure, with why.
	Unknown   map[string]string `json:"unknown,omitempty"`
	Recovered bool              `json:"recovered"`
	// Tilted is set when a Sentinel entered TILT: its timer stalled for
	// over 2 s, which on the memory backend means the machine was
	// overloaded; the run's figures are then suspect.
	Tilted bool `json:"tilted,omitempty"`
	// Groups name the run's replication groups when it has several;
	// Metrics and Unknown then also hold each group's GroupMetrics as
	// "<group>.<metric>", and "failovers", summed over the groups.
	Groups []string `json:"groups,omitempty"`
	// Workloads name the run's workloads when it has several; Metrics and
	// Unknown then also hold each workload's WorkloadMetrics as
	// "<workload>.<metric>" (Metrics' durations being the worst
	// workload's).
	Workloads []string `json:"workloads,omitempty"`
	Seconds   float64  `json:"seconds"`
}

// runOnce runs one repeat of a point and reads its figures.
func runOnce(ctx context.Context, run RunFunc, s *scenario.Scenario, jitter time.Duration, point, repeat int) Run {
	r := Run{Point: point, Repeat: repeat}
	start := time.Now()
	res, err := run(ctx, s, jitter)
	r.Seconds = time.Since(start).Seconds()
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Metrics, r.Unknown = map[string]float64{}, map[string]string{}
	for _, e := range res.Timeline.Events {
		if e.Kind == timeline.KindSentinel && e.Name == "+tilt" {
			r.Tilted = true
		}
	}
	it := res.Report.WriteInterruption
	r.Recovered = !it.Interrupted || it.Recovered
	r.measure(res.Report, "", Metrics)
	if d, ok := model.Detection(res.Timeline, res.Report); ok {
		r.Metrics[DetectionMetric] = d.Seconds()
	} else {
		r.Unknown[DetectionMetric] = "the proxy did not mark the initial master DOWN after the fault"
	}
	// A run with several groups: each group's figures, and the total of
	// failovers (Metrics' durations are the worst group's, its counts
	// summed over the groups).
	for _, g := range res.Report.Groups {
		r.Groups = append(r.Groups, g.Name)
		r.measure(g.Report, g.Name+".", GroupMetrics)
	}
	if len(r.Groups) > 0 {
		r.measure(res.Report, "", []string{"failovers"})
	}
	// A run with several workloads: each workload's figures.
	for _, w := range res.Report.Workloads {
		r.Workloads = append(r.Workloads, w.Name)
		r.measure(w.Report, w.Name+".", WorkloadMetrics)
	}
	return r
}

// measure reads the metrics of rep (the run's report or a group's) into
// the run, under prefix+name.
func (r *Run) measure(rep *verdict.Report, prefix string, metrics []string) {
	it := rep.WriteInterruption
	recovered := !it.Interrupted || it.Recovered
	for _, m := range metrics {
		v, why := rep.Metric(m)
		switch {
		case why != "":
			r.Unknown[prefix+m] = why
		case m == "write_interruption" && !recovered:
			r.Unknown[prefix+m] = "writes never recovered"
		case m == "proxy_share" && !hasSwitch(rep):
			r.Unknown[prefix+m] = "no +switch-master"
		default:
			r.Metrics[prefix+m] = v
		}
	}
}

func hasSwitch(rep *verdict.Report) bool {
	for _, p := range rep.Phases {
		if p.Name == "+switch-master" && p.Found {
			return true
		}
	}
	return false
}

// ModelSummary is a prediction in seconds, as the JSON files carry it.
type ModelSummary struct {
	Trials      int                 `json:"trials"`
	Unrecovered int                 `json:"unrecovered"`
	Metrics     map[string]DistJSON `json:"metrics"`
	// GroupUnrecovered counts, with several groups, the trials in which
	// each group never recovered, by group name, and "worst" those in
	// which some group did not (Unrecovered is the first group's).
	GroupUnrecovered map[string]int `json:"group_unrecovered,omitempty"`
}

// DistJSON is a model distribution in seconds.
type DistJSON struct {
	N   int     `json:"n"`
	P5  float64 `json:"p5"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

func distJSON(d model.Dist) DistJSON {
	return DistJSON{N: d.N, P5: d.P5.Seconds(), P50: d.P50.Seconds(), P95: d.P95.Seconds(), Max: d.Max.Seconds()}
}

// SummariseModel is pred in seconds, by metric name. With several
// groups the plain names are the first group's (as the model gives
// them), and each group's write interruption and first +switch-master
// come as "<group>.write_interruption" and "<group>.switch_master" (the
// model's group order, named as groups names them), the worst group's as
// "worst.write_interruption" and "worst.switch_master".
func SummariseModel(pred *model.Prediction, groups []string) ModelSummary {
	ms := ModelSummary{Trials: pred.Trials, Unrecovered: pred.Unrecovered, Metrics: map[string]DistJSON{
		"write_interruption": distJSON(pred.Interruption), "proxy_share": distJSON(pred.ProxyShare),
		"detection": distJSON(pred.Detection), "two_master_window": distJSON(pred.TwoMaster),
		"sdown": distJSON(pred.SDown), "odown": distJSON(pred.ODown), "promotion": distJSON(pred.Promotion),
		"switch_master": distJSON(pred.Switch), "proxy_up": distJSON(pred.ProxyUp),
	}}
	if len(groups) < 2 || len(pred.Groups) != len(groups) {
		return ms
	}
	ms.GroupUnrecovered = map[string]int{"worst": pred.Worst.Unrecovered}
	for i, g := range pred.Groups {
		ms.Metrics[groups[i]+".write_interruption"] = distJSON(g.Interruption)
		ms.Metrics[groups[i]+".switch_master"] = distJSON(g.Switch)
		ms.GroupUnrecovered[groups[i]] = g.Unrecovered
	}
	ms.Metrics["worst.write_interruption"] = distJSON(pred.Worst.Interruption)
	ms.Metrics["worst.switch_master"] = distJSON(pred.Worst.Switch)
	return ms
}

// WorstInterruption is the model's write interruption of the worst group
// trial by trial, and the trials in which some group never recovered:
// with one group, the group's.
func WorstInterruption(pred *model.Prediction) (model.Dist, int) {
	if len(pred.Groups) > 1 {
		return pred.Worst.Interruption, pred.Worst.Unrecovered
	}
	return pred.Interruption, pred.Unrecovered
}

// GroupInterruption is the model's write interruption of group i of
// several, and the trials in which it never recovered; ok is false when
// the model has no such group.
func GroupInterruption(pred *model.Prediction, i int) (d model.Dist, unrecovered int, ok bool) {
	if len(pred.Groups) < 2 || i < 0 || i >= len(pred.Groups) {
		return model.Dist{}, 0, false
	}
	g := pred.Groups[i]
	return g.Interruption, g.Unrecovered, true
}
