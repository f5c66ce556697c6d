package report

import (
	_ "embed"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// SchemaVersion is the version of the summary of a run's --json file
// (SCHEMA.md). It changes only when a field of the summary changes
// meaning or goes away; new fields keep it.
const SchemaVersion = 1

// Schema is the JSON Schema (draft 2020-12) of a run's --json file: the
// summary in full, the timeline and the report as objects only.
//
//go:embed run.schema.json
var Schema []byte

// Summary is the part of a run's --json file meant for pipelines: snake
// case keys, durations in seconds, every field always present (null when
// the run could not measure it). SCHEMA.md documents each field.
type Summary struct {
	Scenario     string               `json:"scenario"`
	Backend      string               `json:"backend"`
	Proxy        string               `json:"proxy"`
	Passed       bool                 `json:"passed"`
	Expectations []ExpectationSummary `json:"expectations"`
	Figures
	// Groups are the figures of each group of a run with several, in
	// topology order (the figures above being the total); empty with one.
	Groups []GroupSummary `json:"groups"`
	// Workloads are the figures of each workload of a run with several,
	// in the scenario's order; empty with one.
	Workloads []WorkloadSummary `json:"workloads"`
}

// ExpectationSummary is one expectation of the scenario and its outcome.
type ExpectationSummary struct {
	// Text is the expectation as written ("write_interruption <= 10s").
	Text string `json:"text"`
	// Metric is the metric's name, with its group or workload prefix.
	Metric string `json:"metric"`
	Op     string `json:"op"`
	// Bound is the value tested against, in seconds for durations.
	Bound float64 `json:"bound"`
	// Unit is "s" for durations, "count" otherwise.
	Unit string `json:"unit"`
	// Measured is the run's value (seconds for durations), null when it
	// could not be measured (Unknown says why; the expectation failed).
	Measured *float64 `json:"measured"`
	Unknown  string   `json:"unknown,omitempty"`
	Passed   bool     `json:"passed"`
}

// Figures are the headline numbers of a run, a group or a workload.
type Figures struct {
	// WriteInterruptionS is the write interruption around the first
	// fault in seconds; null without a fault.
	WriteInterruptionS *float64 `json:"write_interruption_s"`
	// WriteRecovered is false when writes failed after the fault and none
	// succeeded again before the run's end (the interruption then runs
	// to the end).
	WriteRecovered    bool     `json:"write_recovered"`
	ReadInterruptionS *float64 `json:"read_interruption_s"`
	ReadRecovered     bool     `json:"read_recovered"`
	LongestWriteGapS  float64  `json:"longest_write_gap_s"`
	// LostWrites counts acknowledged writes missing at the read-back;
	// null when the writes were not read back.
	LostWrites *int `json:"lost_writes"`
	// TwoMasterWindowS is how long writes could land on two masters.
	TwoMasterWindowS float64 `json:"two_master_window_s"`
	Failovers        int     `json:"failovers"`
	OKWrites         int     `json:"ok_writes"`
	FailedWrites     int     `json:"failed_writes"`
	// IndeterminateWrites timed out or lost their connection: they may
	// or may not have been applied.
	IndeterminateWrites int `json:"indeterminate_writes"`
}

// GroupSummary is one replication group of a run with several.
type GroupSummary struct {
	Name       string `json:"name"`
	MasterName string `json:"master_name"`
	Figures
}

// WorkloadSummary is one workload of a run with several.
type WorkloadSummary struct {
	Name   string `json:"name"`
	Client string `json:"client"`
	Figures
}

// NewSummary summarises a run.
func NewSummary(tl *timeline.Timeline, r *verdict.Report) Summary {
	s := Summary{Scenario: tl.Scenario, Backend: tl.Backend, Proxy: tl.Proxy, Passed: r.Passed(),
		Expectations: []ExpectationSummary{}, Figures: figures(r), Groups: []GroupSummary{}, Workloads: []WorkloadSummary{}}
	for _, e := range r.Expectations {
		es := ExpectationSummary{Text: e.Raw, Metric: e.Metric, Op: e.Op, Bound: e.Value, Unit: "count", Unknown: e.Unknown, Passed: e.Held}
		if e.IsDuration() {
			es.Unit = "s"
		}
		if e.Unknown == "" {
			es.Measured = &e.Measured
		}
		s.Expectations = append(s.Expectations, es)
	}
	for _, g := range r.Groups {
		s.Groups = append(s.Groups, GroupSummary{Name: g.Name, MasterName: g.MasterName, Figures: figures(g.Report)})
	}
	for _, w := range r.Workloads {
		s.Workloads = append(s.Workloads, WorkloadSummary{Name: w.Name, Client: w.Client, Figures: figures(w.Report)})
	}
	return s
}

// figures takes the numbers of r as its metrics give them, so that the
// summary and the expectations never disagree.
func figures(r *verdict.Report) Figures {
	f := Figures{
		WriteRecovered:      r.WriteInterruption.Recovered || !r.WriteInterruption.Interrupted,
		ReadRecovered:       r.ReadInterruption.Recovered || !r.ReadInterruption.Interrupted,
		LongestWriteGapS:    r.LongestWriteGap.Duration().Seconds(),
		TwoMasterWindowS:    r.TwoMaster.Total.Seconds(),
		Failovers:           r.Failovers,
		OKWrites:            r.Writes.OK,
		FailedWrites:        r.Writes.Failed,
		IndeterminateWrites: r.Writes.Indeterminate,
	}
	known := func(metric string) *float64 {
		v, unknown := r.Metric(metric)
		if unknown != "" {
			return nil
		}
		return &v
	}
	f.WriteInterruptionS = known("write_interruption")
	f.ReadInterruptionS = known("read_interruption")
	if r.Lost.Checked {
		n := r.Lost.Lost
		f.LostWrites = &n
	}
	return f
}
