package proc

import (
	"errors"
	"slices"
	"testing"
)

func TestShellArgvUsesShOnUnix(t *testing.T) {
	lookPath := func(string) (string, error) { return "", errors.New("not found") }
	for _, goos := range []string{"linux", "darwin"} {
		got := shellArgv(goos, lookPath, "echo hi")
		if want := []string{"sh", "-c", "echo hi"}; !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", goos, got, want)
		}
	}
}

func TestShellArgvOnWindowsPrefersShOnPath(t *testing.T) {
	found := func(string) (string, error) { return `C:\Program Files\Git\usr\bin\sh.exe`, nil }
	if got, want := shellArgv("windows", found, "echo hi"), []string{"sh", "-c", "echo hi"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestShellArgvOnWindowsFallsBackToCmd(t *testing.T) {
	missing := func(string) (string, error) { return "", errors.New("not found") }
	if got, want := shellArgv("windows", missing, "echo hi"), []string{"cmd", "/S", "/C", "echo hi"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDescribeQuotesTheLine(t *testing.T) {
	if got, want := Describe([]string{"sh", "-c", `kill -9 "$p"`}), `sh -c "kill -9 \"$p\""`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := Describe([]string{"cmd", "/S", "/C", "exit 1"}), `cmd /S /C "exit 1"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
