package main

import (
	"slices"
	"testing"

	"github.com/redisha-sim/redisha-sim/sim/docker"
)

// A node behind the relay announces the address it has when it starts,
// so that a rescheduled one announces its new address.
func TestRelayPutsTheHostsAddressInTheProgramsArguments(t *testing.T) {
	got, err := withAddress([]string{"redis-server", "--replica-announce-ip", docker.AddressArg}, "127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"redis-server", "--replica-announce-ip", "127.0.0.1"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	plain := []string{"redis-server", "--port", "6380"}
	if got, err := withAddress(plain, ""); err != nil || !slices.Equal(got, plain) {
		t.Errorf("without the argument: got %q %v, want the program unchanged", got, err)
	}
	if _, err := withAddress([]string{"x", docker.AddressArg}, "not-a-subnet"); err == nil {
		t.Error("a bad --address-in was accepted")
	}
	if _, err := withAddress([]string{"x", docker.AddressArg}, "240.0.0.0/24"); err == nil {
		t.Error("a subnet this host has no address in was accepted")
	}
}
