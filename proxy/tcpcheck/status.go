package tcpcheck

// Status is a check's outcome, with HAProxy's codes (the check_status column
// of the stats CSV) and descriptions (the "reason" of its log lines).
type Status int

const (
	StatusUnknown Status = iota
	StatusInit
	StatusSockErr
	StatusL4OK
	StatusL4Timeout
	StatusL4Con
	StatusL6OK
	StatusL6Timeout
	StatusL6Rsp
	StatusL7Timeout
	StatusL7Rsp
	StatusL7OK
	StatusL7OKC
	StatusL7Sts
)

var statusInfo = [...]struct {
	code, desc string
	passed     bool
	// number is HAProxy's enum value ("show servers state").
	number int
}{
	StatusUnknown:   {"UNK", "Unknown", false, 0},
	StatusInit:      {"INI", "Initializing", false, 1},
	StatusSockErr:   {"SOCKERR", "Socket error", false, 5},
	StatusL4OK:      {"L4OK", "Layer4 check passed", true, 6},
	StatusL4Timeout: {"L4TOUT", "Layer4 timeout", false, 7},
	StatusL4Con:     {"L4CON", "Layer4 connection problem", false, 8},
	StatusL6OK:      {"L6OK", "Layer6 check passed", true, 9},
	StatusL6Timeout: {"L6TOUT", "Layer6 timeout", false, 10},
	StatusL6Rsp:     {"L6RSP", "Layer6 invalid response", false, 11},
	StatusL7Timeout: {"L7TOUT", "Layer7 timeout", false, 12},
	StatusL7Rsp:     {"L7RSP", "Layer7 invalid response", false, 13},
	StatusL7OK:      {"L7OK", "Layer7 check passed", true, 15},
	StatusL7OKC:     {"L7OKC", "Layer7 check conditionally passed", true, 16},
	StatusL7Sts:     {"L7STS", "Layer7 wrong status", false, 17},
}

// Number is HAProxy's numeric value of the status (its enum
// healthcheck_status), as "show servers state" prints it.
func (s Status) Number() int { return statusInfo[s].number }

// Code is HAProxy's short name: L4OK, L7TOUT, ...
func (s Status) Code() string { return statusInfo[s].code }

// Description is HAProxy's wording: "Layer7 timeout", ...
func (s Status) Description() string { return statusInfo[s].desc }

// Passed reports whether the status counts as a passed check.
func (s Status) Passed() bool { return statusInfo[s].passed }

func (s Status) String() string { return s.Code() }

// ParseStatus reads a status code as used by ok-status, error-status and
// tout-status.
func ParseStatus(code string) (Status, bool) {
	for i, si := range statusInfo {
		if si.code == code && Status(i) > StatusInit {
			return Status(i), true
		}
	}
	return 0, false
}
