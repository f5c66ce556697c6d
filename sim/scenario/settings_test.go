package scenario

import "testing"

func TestSettingsAreEveryFieldAsSetKeys(t *testing.T) {
	s, err := Load("testdata/ok.yaml", []string{"topology.min_replicas_to_write=1", "topology.password=secret"})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Settings()
	for k, want := range map[string]string{
		"topology.min_replicas_to_write": "1",
		"sentinel.down_after":            "1s",
		"proxy.inter":                    "250ms",
		"workload.writers.connection":    "pooled",
		"faults[1].at":                   s.Faults[1].At.D.String(),
		"expect[0]":                      s.Expect[0],
	} {
		if got[k] != want {
			t.Errorf("%s: got %q, want %q", k, got[k], want)
		}
	}
	for _, k := range []string{"name", "description", "topology.password", "proxy.shutdown_sessions"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s: got %q, want it left out", k, v)
		}
	}
}
