package model

import "testing"

// BenchmarkPredictMasterKill10000 runs the budget: 10,000 trials of
// scenarios/master-kill.yaml (at most 5 s on the project's 2 cores).
func BenchmarkPredictMasterKill10000(b *testing.B) {
	s, err := loadScenario("master-kill")
	if err != nil {
		b.Fatal(err)
	}
	p, err := FromScenario(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := Predict(p, 10000, 1); err != nil {
			b.Fatal(err)
		}
	}
}
