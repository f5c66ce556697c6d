package config

import (
	"fmt"
	"strings"
)

// Diagnostic is one problem found in a configuration: an error, or a warning
// for something read but not acted on.
type Diagnostic struct {
	Pos Pos
	// Section is the section it was found in, as "backend 'name'", or empty.
	Section string
	// Keyword is the keyword at fault, e.g. "tcp-check expect".
	Keyword string
	Msg     string
	Warning bool
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	if d.Warning {
		b.WriteString("warning: ")
	}
	if d.Section != "" {
		b.WriteString(d.Section)
		b.WriteString(": ")
	}
	if d.Keyword != "" {
		fmt.Fprintf(&b, "'%s': ", d.Keyword)
	}
	b.WriteString(d.Msg)
	return b.String()
}

// Errors is the error Parse returns: every error found, in file order.
type Errors []Diagnostic

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, d := range e {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}
