package config

import (
	"sort"
	"strings"
)

// This proxy does not evaluate ACLs (acl, use_backend and the other rules
// that take a condition are accepted with a warning), but a condition that
// names an ACL nobody declared is an error, as in HAProxy: it looks each
// name up among the ACLs declared earlier in the same section, and among
// its predefined ones, and refuses to start otherwise ("no such ACL").

// predefinedACLs are HAProxy's built-in ACLs (configuration.txt, 7.4).
var predefinedACLs = map[string]bool{
	"FALSE": true, "HTTP": true, "HTTP_1.0": true, "HTTP_1.1": true, "HTTP_2.0": true, "HTTP_3.0": true,
	"HTTP_CONTENT": true, "HTTP_URL_ABS": true, "HTTP_URL_SLASH": true, "HTTP_URL_STAR": true,
	"LOCALHOST": true, "METH_CONNECT": true, "METH_DELETE": true, "METH_GET": true, "METH_HEAD": true,
	"METH_OPTIONS": true, "METH_POST": true, "METH_PUT": true, "METH_TRACE": true, "RDP_COOKIE": true,
	"REQ_CONTENT": true, "TRUE": true, "WAIT_END": true,
}

// conditional reports whether a proxy keyword's line may end with an
// "if"/"unless" condition.
func conditional(w []string) bool {
	switch w[0] {
	case "use_backend", "use-server", "http-request", "http-response", "http-after-response",
		"tcp-request", "tcp-response", "redirect", "monitor", "force-persist", "ignore-persist", "stick":
		return true
	case "stats":
		return len(w) > 1 && (w[1] == "admin" || w[1] == "http-request")
	}
	return false
}

// unknownACL returns the first ACL a line's condition names that is neither
// predefined nor in declared; anonymous ACLs ("{ ... }") need no name.
func unknownACL(w []string, declared map[string]bool) (string, bool) {
	start := -1
	for i := 1; i < len(w); i++ {
		if w[i] == "if" || w[i] == "unless" {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return "", false
	}
	depth := 0
	for _, t := range w[start:] {
		switch {
		case t == "{":
			depth++
			continue
		case t == "}":
			depth = max(depth-1, 0)
			continue
		case depth > 0, t == "||", t == "or", t == "!":
			continue
		}
		name := strings.TrimLeft(t, "!")
		if name == "" || predefinedACLs[name] || declared[name] {
			continue
		}
		return name, true
	}
	return "", false
}

// aclList names the declared ACLs for a message.
func aclList(declared map[string]bool) string {
	if len(declared) == 0 {
		return "none is declared in this section before this line"
	}
	names := make([]string, 0, len(declared))
	for n := range declared {
		names = append(names, n)
	}
	sort.Strings(names)
	return "declared before this line: " + strings.Join(names, ", ")
}
