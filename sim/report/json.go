package report

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/redisha-sim/redisha-sim/sim/timeline"
	"github.com/redisha-sim/redisha-sim/sim/verdict"
)

// File is a run's --json file. Files written before SchemaVersion 1 have
// the timeline and the report alone; readers of either take the two.
type File struct {
	// SchemaVersion is SchemaVersion; 0 (absent) in older files.
	SchemaVersion int `json:"schema_version"`
	// Summary is the stable part, for pipelines (SCHEMA.md).
	Summary  Summary            `json:"summary"`
	Timeline *timeline.Timeline `json:"timeline"`
	Report   *verdict.Report    `json:"report"`
}

// JSON is a run's --json file, indented.
func JSON(tl *timeline.Timeline, r *verdict.Report) ([]byte, error) {
	return json.MarshalIndent(File{SchemaVersion: SchemaVersion, Summary: NewSummary(tl, r), Timeline: tl, Report: r}, "", " ")
}

// Validate checks a run's --json file against Schema.
func Validate(b []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		return fmt.Errorf("read the schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaID, doc); err != nil {
		return fmt.Errorf("load the schema: %w", err)
	}
	sch, err := c.Compile(schemaID)
	if err != nil {
		return fmt.Errorf("compile the schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(inst)
}

// schemaID is Schema's $id.
const schemaID = "https://github.com/redisha-sim/redisha-sim/sim/report/run.schema.json"
