package config

import (
	"fmt"
	"strconv"
	"time"
)

// MaxTimer is the largest time HAProxy accepts for a timeout or an interval
// (2^31-1 milliseconds, about 24.8 days).
const MaxTimer = time.Duration(1<<31-1) * time.Millisecond

var timeUnits = []struct {
	suffix string
	unit   time.Duration
}{
	// Longest suffixes first so that "ms" is not read as "m" followed by junk.
	{"us", time.Microsecond},
	{"ms", time.Millisecond},
	{"s", time.Second},
	{"m", time.Minute},
	{"h", time.Hour},
	{"d", 24 * time.Hour},
}

// ParseTime reads a time the way HAProxy does: a non-negative integer
// followed by an optional lower-case unit (us, ms, s, m, h, d). A number
// without a unit is in milliseconds. The result is rounded up to a whole
// millisecond, HAProxy's resolution.
func ParseTime(s string) (time.Duration, error) { return parseTime(s, time.Millisecond) }

// parseTime reads a time whose unit defaults to def ("stats refresh"
// counts in seconds).
func parseTime(s string, def time.Duration) (time.Duration, error) {
	digits := 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("invalid time %q: want a number with an optional unit (us, ms, s, m, h, d), e.g. 1s or 250ms", s)
	}
	n, err := strconv.ParseInt(s[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid time %q: %w", s, err)
	}
	unit := def
	if rest := s[digits:]; rest != "" {
		unit = 0
		for _, u := range timeUnits {
			if rest == u.suffix {
				unit = u.unit
				break
			}
		}
		if unit == 0 {
			return 0, fmt.Errorf("invalid time unit %q in %q: valid units are us, ms, s, m, h, d", rest, s)
		}
	}
	if n > int64(MaxTimer/unit) {
		return 0, fmt.Errorf("timer overflow in %q (maximum value is 2147483647 ms or ~24.8 days)", s)
	}
	d := time.Duration(n) * unit
	// HAProxy keeps milliseconds, rounding up.
	return (d + time.Millisecond - 1).Truncate(time.Millisecond), nil
}

// FormatTime writes d with the largest unit that expresses it exactly, the
// inverse of ParseTime.
func FormatTime(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	for i := len(timeUnits) - 1; i >= 0; i-- {
		u := timeUnits[i]
		if d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(d/time.Microsecond), 10) + "us"
}
