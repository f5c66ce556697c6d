package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"time"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// The JUnit XML shapes, as Jenkins, GitLab and GitHub's test reporters
// read them.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Time       string          `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr,omitempty"`
		Properties []junitProperty `xml:"properties>property"`
		Cases      []junitCase     `xml:"testcase"`
		SystemOut  *junitText      `xml:"system-out"`
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitProblem `xml:"failure"`
		Error     *junitProblem `xml:"error"`
	}
	junitText struct {
		Text string `xml:",cdata"`
	}
	junitProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Body    string `xml:",chardata"`
	}
)

// JUnit writes a run as JUnit XML: the scenario is the test suite, each
// expectation a test case named by its text, failed with the measured
// value in the message when it did not hold. The suite's properties are
// the backend, the proxy and the headline figures; its system-out is the
// text report.
func JUnit(w io.Writer, tl *timeline.Timeline, r *verdict.Report) error {
	s := junitSuite{Name: tl.Scenario, Time: junitSecs(tl.End), Properties: runProperties(tl, r)}
	if !tl.Start.IsZero() {
		s.Timestamp = tl.Start.UTC().Format(time.RFC3339)
	}
	for _, e := range r.Expectations {
		c := junitCase{Name: e.Raw, Classname: tl.Scenario, Time: "0"}
		if !e.Held {
			c.Failure = &junitProblem{Message: fmt.Sprintf("%s: measured %s", e.Raw, measured(e)), Type: "expectation"}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	var text bytes.Buffer
	Text(&text, tl, r)
	s.SystemOut = &junitText{Text: text.String()}
	return writeJUnit(w, s)
}

// JUnitError writes a run that could not be judged (it failed, was
// interrupted, or its input was refused) as a suite of one test case,
// "run", in error with err's text; backend, when known, is a property.
func JUnitError(w io.Writer, scenario, backend string, err error) error {
	s := junitSuite{Name: scenario, Time: "0", Tests: 1, Errors: 1,
		Cases: []junitCase{{Name: "run", Classname: scenario, Time: "0",
			Error: &junitProblem{Message: err.Error(), Type: "run"}}}}
	if backend != "" {
		s.Properties = []junitProperty{{Name: "backend", Value: backend}}
	}
	return writeJUnit(w, s)
}

func writeJUnit(w io.Writer, s junitSuite) error {
	all := junitSuites{Name: "redisha-sim", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// runProperties are the suite's properties: what ran, and the figures a
// pipeline shows next to the cases (as the --json summary has them; one
// that was not measured is left out).
func runProperties(tl *timeline.Timeline, r *verdict.Report) []junitProperty {
	f := figures(r)
	ps := []junitProperty{{Name: "backend", Value: tl.Backend}, {Name: "proxy", Value: tl.Proxy}}
	num := func(name string, v *float64) {
		if v != nil {
			ps = append(ps, junitProperty{Name: name, Value: fmt.Sprintf("%.3f", *v)})
		}
	}
	num("write_interruption_s", f.WriteInterruptionS)
	num("read_interruption_s", f.ReadInterruptionS)
	if f.LostWrites != nil {
		ps = append(ps, junitProperty{Name: "lost_writes", Value: fmt.Sprint(*f.LostWrites)})
	}
	num("two_master_window_s", &f.TwoMasterWindowS)
	ps = append(ps, junitProperty{Name: "failovers", Value: fmt.Sprint(f.Failovers)})
	return ps
}

// measured is an expectation's measured value as the text report gives it.
func measured(e verdict.ExpectResult) string {
	if e.Unknown != "" {
		return "unknown: " + e.Unknown
	}
	if e.IsDuration() {
		return secs(time.Duration(e.Measured * float64(time.Second)))
	}
	return fmt.Sprintf("%g", e.Measured)
}

// junitSecs is a duration as JUnit's time attribute: seconds.
func junitSecs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
