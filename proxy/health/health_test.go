package health

import (
	"testing"
	"time"
)

func TestDefaultStartMarksServerDownAtFirstFailure(t *testing.T) {
	c := NewCounter(2, 3, StartUp)
	if !c.Up() || c.FullyUp() {
		t.Fatalf("start: got health %d (up=%v fullyUp=%v), want UP but not fully UP", c.Health, c.Up(), c.FullyUp())
	}
	if got := c.Record(false); got != WentDown {
		t.Fatalf("first failure: got %v, want down", got)
	}
	if c.Health != 0 {
		t.Fatalf("got health %d, want 0", c.Health)
	}
}

func TestFullyUpServerNeedsFallFailuresToGoDown(t *testing.T) {
	for _, fall := range []int{1, 2, 3, 5} {
		c := NewCounter(2, fall, StartFullyUp)
		for i := 1; i < fall; i++ {
			if got := c.Record(false); got != NoChange {
				t.Fatalf("fall %d: failure %d: got %v, want none", fall, i, got)
			}
			if !c.Up() {
				t.Fatalf("fall %d: failure %d: server went DOWN early", fall, i)
			}
		}
		if got := c.Record(false); got != WentDown {
			t.Fatalf("fall %d: failure %d: got %v, want down", fall, fall, got)
		}
	}
}

func TestDownServerNeedsRisePassesToGoUp(t *testing.T) {
	for _, rise := range []int{1, 2, 4} {
		c := NewCounter(rise, 3, StartFullyDown)
		for i := 1; i < rise; i++ {
			if got := c.Record(true); got != NoChange {
				t.Fatalf("rise %d: pass %d: got %v, want none", rise, i, got)
			}
		}
		if got := c.Record(true); got != WentUp {
			t.Fatalf("rise %d: pass %d: got %v, want up", rise, rise, got)
		}
		if !c.FullyUp() {
			t.Fatalf("rise %d: got health %d, want fully UP %d", rise, c.Health, rise+3-1)
		}
	}
}

func TestOnePassWhileGoingDownRestoresFullyUp(t *testing.T) {
	c := NewCounter(2, 3, StartFullyUp)
	c.Record(false)
	c.Record(false)
	if c.Status() != "UP 1/3" {
		t.Fatalf("after two failures: got %q, want %q", c.Status(), "UP 1/3")
	}
	c.Record(true)
	if !c.FullyUp() {
		t.Fatalf("got health %d, want %d", c.Health, 4)
	}
}

func TestFailureWhileGoingUpResetsToZero(t *testing.T) {
	c := NewCounter(3, 3, StartFullyDown)
	c.Record(true)
	c.Record(true)
	if c.Status() != "DOWN 2/3" {
		t.Fatalf("got %q, want %q", c.Status(), "DOWN 2/3")
	}
	if got := c.Record(false); got != NoChange {
		t.Fatalf("got %v, want none", got)
	}
	if c.Health != 0 {
		t.Fatalf("got health %d, want 0", c.Health)
	}
}

func TestStartDownGoesUpAtFirstPass(t *testing.T) {
	c := NewCounter(2, 3, StartDown)
	if c.Up() {
		t.Fatal("StartDown server is UP before any check")
	}
	if got := c.Record(true); got != WentUp {
		t.Fatalf("got %v, want up", got)
	}
}

func TestCounterStaysInBounds(t *testing.T) {
	c := NewCounter(2, 3, StartUp)
	for i := 0; i < 10; i++ {
		c.Record(false)
	}
	if c.Health != 0 {
		t.Fatalf("got %d after many failures, want 0", c.Health)
	}
	for i := 0; i < 10; i++ {
		c.Record(true)
	}
	if c.Health != 4 {
		t.Fatalf("got %d after many passes, want 4", c.Health)
	}
}

func TestIntervalFollowsState(t *testing.T) {
	p := Params{Inter: 2 * time.Second, FastInter: 250 * time.Millisecond, DownInter: 5 * time.Second, Rise: 2, Fall: 3}
	cases := []struct {
		health int
		want   time.Duration
	}{
		{4, 2 * time.Second},        // fully up: inter
		{3, 250 * time.Millisecond}, // going down: fastinter
		{2, 250 * time.Millisecond}, // HAProxy's start: fastinter
		{1, 250 * time.Millisecond}, // going up: fastinter
		{0, 5 * time.Second},        // fully down: downinter
	}
	for _, tc := range cases {
		c := Counter{Health: tc.health, Rise: 2, Fall: 3}
		if got := c.Interval(p); got != tc.want {
			t.Errorf("health %d: got %v, want %v", tc.health, got, tc.want)
		}
	}
	plain := Params{Inter: time.Second, Rise: 2, Fall: 3}
	for h := 0; h <= 4; h++ {
		if got := (Counter{Health: h, Rise: 2, Fall: 3}).Interval(plain); got != time.Second {
			t.Errorf("health %d without fastinter/downinter: got %v, want inter", h, got)
		}
	}
}

func TestStatusWordsLikeHAProxy(t *testing.T) {
	cases := map[int]string{4: "UP", 3: "UP 2/3", 2: "UP 1/3", 1: "DOWN 1/2", 0: "DOWN"}
	for h, want := range cases {
		if got := (Counter{Health: h, Rise: 2, Fall: 3}).Status(); got != want {
			t.Errorf("health %d: got %q, want %q", h, got, want)
		}
	}
}

func TestSetForcesState(t *testing.T) {
	c := NewCounter(2, 3, StartUp)
	if got := c.Set(false); got != WentDown || c.Health != 0 {
		t.Fatalf("set down: got %v health %d", got, c.Health)
	}
	if got := c.Set(true); got != WentUp || !c.FullyUp() {
		t.Fatalf("set up: got %v health %d", got, c.Health)
	}
	if got := c.Set(true); got != NoChange {
		t.Fatalf("set up twice: got %v, want none", got)
	}
}

func TestSpreadStaysWithinPercent(t *testing.T) {
	in := time.Second
	if got := Spread(in, 0, 0.3); got != in {
		t.Fatalf("no spread: got %v", got)
	}
	if got := Spread(in, 50, 0); got != 1500*time.Millisecond {
		t.Fatalf("r=0: got %v, want 1.5s", got)
	}
	if got := Spread(in, 50, 0.5); got != in {
		t.Fatalf("r=0.5: got %v, want 1s", got)
	}
	if got := Spread(in, 10, 0.999999); got < 900*time.Millisecond || got > 901*time.Millisecond {
		t.Fatalf("r→1: got %v, want ~900ms", got)
	}
}

func TestFirstChecksSpreadOverMinInterval(t *testing.T) {
	// The seed: 6 checked servers with inter 1s start 1/6 s apart.
	want := []time.Duration{0, 166666666, 333333333, 500 * time.Millisecond, 666666666, 833333333}
	for pos, w := range want {
		if got := FirstCheckDelay(time.Second, pos, 6); got != w {
			t.Errorf("pos %d: got %v, want %v", pos, got, w)
		}
	}
}
