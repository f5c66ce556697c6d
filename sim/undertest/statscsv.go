package undertest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// StatsRow is one server row of HAProxy's CSV statistics (the ";csv"
// export, which this project's proxy serves too).
type StatsRow struct {
	// Backend and Server are the pxname and svname columns.
	Backend, Server string
	// Addr is the addr column (host:port, HAProxy 1.9 and later), empty
	// when the CSV has none.
	Addr string
	// Status is as the proxy shows it: "UP", "DOWN 1/2", "MAINT", ...
	Status string
	// Detail is the last check's status, description and result.
	Detail string
}

// Up tells whether a CSV status routes traffic: "UP", "UP 1/3" (going
// down), "no check"; not "DOWN", "DOWN 1/2" (going up), "MAINT", "NOLB".
func (r StatsRow) Up() bool {
	return strings.HasPrefix(r.Status, "UP") || r.Status == "no check" || r.Status == "OPEN"
}

// maxStatsRows bounds the rows ParseStatsCSV reads.
const maxStatsRows = 100000

// ParseStatsCSV reads the server rows of HAProxy's CSV statistics (not
// the FRONTEND and BACKEND rows). The header names the columns, so their
// order and number may differ between versions; pxname, svname and status
// are required.
func ParseStatsCSV(r io.Reader) ([]StatsRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("statistics CSV: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(strings.TrimSpace(h), "# ")] = i
	}
	for _, need := range []string{"pxname", "svname", "status"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("statistics CSV: no %s column in its first line (is it HAProxy's ;csv export?)", need)
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var out []StatsRow
	for range maxStatsRows {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("statistics CSV: %w", err)
		}
		sv := get(rec, "svname")
		if sv == "FRONTEND" || sv == "BACKEND" || sv == "" {
			continue
		}
		detail := get(rec, "check_status")
		if d := get(rec, "check_desc"); d != "" {
			detail += " " + d
		}
		if d := get(rec, "last_chk"); d != "" {
			detail += ": " + d
		}
		out = append(out, StatsRow{Backend: get(rec, "pxname"), Server: sv, Addr: get(rec, "addr"), Status: get(rec, "status"), Detail: strings.TrimSpace(detail)})
	}
	return nil, fmt.Errorf("statistics CSV: more than %d rows", maxStatsRows)
}
