package undertest

import (
	"strings"
	"testing"
)

func TestParseStatsCSVReadsServerRowsByTheirHeader(t *testing.T) {
	csv := "# pxname,svname,status,addr,check_status,check_desc,last_chk\n" +
		"front,FRONTEND,OPEN,,,,\n" +
		"back_redis_master1,redis1,UP,10.0.0.1:6379,L7OK,Layer7 check passed,role:master\n" +
		"back_redis_master1,redis2,DOWN 1/2,10.0.0.2:6379,L7RSP,Layer7 invalid response,\n" +
		"back_redis_master1,BACKEND,UP,,,,\n"
	rows, err := ParseStatsCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows: got %d (%+v), want 2", len(rows), rows)
	}
	if r := rows[0]; r.Backend != "back_redis_master1" || r.Server != "redis1" || r.Addr != "10.0.0.1:6379" || !r.Up() || r.Detail != "L7OK Layer7 check passed: role:master" {
		t.Errorf("row 0: got %+v", r)
	}
	if r := rows[1]; r.Up() || r.Status != "DOWN 1/2" {
		t.Errorf("row 1: got %+v, want DOWN 1/2, not up", r)
	}
	if _, err := ParseStatsCSV(strings.NewReader("<html>stats</html>\n")); err == nil || !strings.Contains(err.Error(), "no pxname column") {
		t.Errorf("an HTML page: got %v, want no pxname column", err)
	}
}

func TestStatsRowUpIsWhatRoutesTraffic(t *testing.T) {
	for status, want := range map[string]bool{
		"UP": true, "UP 1/3": true, "no check": true, "OPEN": true, "DOWN": false, "DOWN 1/2": false, "MAINT": false, "NOLB": false, "": false,
	} {
		if got := (StatsRow{Status: status}).Up(); got != want {
			t.Errorf("StatsRow{Status: %q}.Up() = %v", status, got)
		}
	}
}
