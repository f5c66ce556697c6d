package memory

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// infoSections are the sections INFO with no argument (or "all") prints.
var infoSections = []string{"server", "clients", "persistence", "stats", "replication", "keyspace"}

// info builds the INFO reply: the sections Redis 7.0 prints that Sentinel,
// the proxies' checks and this project read, with Redis's field names and
// order.
func (n *Node) info(args []string) string {
	want := infoSections
	if len(args) > 0 && !strings.EqualFold(args[0], "all") && !strings.EqualFold(args[0], "default") && !strings.EqualFold(args[0], "everything") {
		want = nil
		for _, a := range args {
			want = append(want, strings.ToLower(a))
		}
	}
	var parts []string
	for _, s := range want {
		if body := n.infoSection(s); body != "" {
			parts = append(parts, body)
		}
	}
	return strings.Join(parts, "\r\n")
}

func (n *Node) infoSection(name string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	switch name {
	case "server":
		_, port, _ := net.SplitHostPort(n.Addr())
		b.WriteString("# Server\r\n")
		kv("redis_version", "7.0.15")
		kv("redis_mode", "standalone")
		kv("os", "redisha-sim memory backend")
		kv("arch_bits", 64)
		kv("process_id", os.Getpid())
		kv("run_id", n.runID)
		kv("tcp_port", port)
		kv("uptime_in_seconds", int(time.Since(n.started).Seconds()))
		kv("hz", 10)
		kv("executable", "memory")
		kv("config_file", "")
	case "clients":
		b.WriteString("# Clients\r\n")
		kv("connected_clients", len(n.conns))
		kv("blocked_clients", 0)
	case "persistence":
		b.WriteString("# Persistence\r\n")
		kv("loading", 0)
		kv("rdb_changes_since_last_save", 0)
		kv("rdb_bgsave_in_progress", 0)
		kv("aof_enabled", 0)
	case "stats":
		b.WriteString("# Stats\r\n")
		if n.m != nil {
			kv("total_connections_received", n.m.TotalConnectionCount())
			kv("total_commands_processed", n.m.CommandCount())
		}
	case "replication":
		n.replicationInfoLocked(&b)
	case "keyspace":
		b.WriteString("# Keyspace\r\n")
		if n.m != nil {
			if keys := len(n.m.Keys()); keys > 0 {
				kv("db0", fmt.Sprintf("keys=%d,expires=0,avg_ttl=0", keys))
			}
		}
	default:
		return ""
	}
	return b.String()
}

// replicationInfoLocked writes "# Replication" in Redis 7.0's order.
func (n *Node) replicationInfoLocked(b *strings.Builder) {
	kv := func(k string, v any) { fmt.Fprintf(b, "%s:%v\r\n", k, v) }
	r := n.repl
	b.WriteString("# Replication\r\n")
	if r.role == roleMaster {
		kv("role", "master")
	} else {
		host, port, _ := net.SplitHostPort(r.masterAddr)
		kv("role", "slave")
		kv("master_host", host)
		kv("master_port", port)
		kv("master_link_status", map[bool]string{true: "up", false: "down"}[r.linkUp])
		last := -1
		if !r.lastIO.IsZero() {
			last = int(time.Since(r.lastIO).Seconds())
		}
		kv("master_last_io_seconds_ago", last)
		kv("master_sync_in_progress", map[bool]int{true: 1, false: 0}[r.syncing])
		kv("slave_read_repl_offset", r.offset)
		kv("slave_repl_offset", r.offset)
		if !r.linkUp {
			down := -1
			if !r.downSince.IsZero() {
				down = int(n.net.now().Sub(r.downSince).Seconds())
			}
			kv("master_link_down_since_seconds", down)
		}
		kv("slave_priority", 100)
		kv("slave_read_only", 1)
		kv("replica_announced", 1)
	}
	kv("connected_slaves", len(r.replicas))
	for i, rl := range n.sortedReplicasLocked() {
		host, port, _ := net.SplitHostPort(rl.node.Addr())
		kv(fmt.Sprintf("slave%d", i), fmt.Sprintf("ip=%s,port=%s,state=online,offset=%d,lag=%d", host, port, rl.acked, int(time.Since(rl.lastAck).Seconds())))
	}
	kv("master_failover_state", "no-failover")
	kv("master_replid", r.replID)
	replID2 := r.replID2
	if replID2 == "" {
		replID2 = strings.Repeat("0", 40)
	}
	kv("master_replid2", replID2)
	kv("master_repl_offset", r.offset)
	kv("second_repl_offset", r.secondOffset)
	if r.backlog {
		kv("repl_backlog_active", 1)
		kv("repl_backlog_size", 1048576)
		kv("repl_backlog_first_byte_offset", 1)
		kv("repl_backlog_histlen", r.offset)
	} else {
		kv("repl_backlog_active", 0)
		kv("repl_backlog_size", 1048576)
		kv("repl_backlog_first_byte_offset", 0)
		kv("repl_backlog_histlen", 0)
	}
}
