// Package docker is the container backend: real Redis and Sentinel in
// containers on private networks, started with testcontainers-go, with the
// faults docker gives (stop, kill, start, restart, pause, network
// disconnect) verified on the containers' state.
//
// Two networks carry the cluster: "cluster" joins the Redis nodes and the
// Sentinels (replication and Sentinel use it), "clients" joins the nodes
// and the proxies. A network disconnect cuts a node from the cluster
// network only, so clients still reach it: a split brain. Every container
// has a fixed address on each network, kept across stop and start, since
// Sentinel cannot follow a node whose address changes; only action
// reschedule moves a node, as a rescheduled pod moves, to another fixed
// address (firstMovedHost on), and the cluster names it by both.
//
// Where the harness cannot route to those networks (Docker Desktop, a
// remote daemon, a harness in a container), the whole run goes into a
// runner container attached to them: see runner.go.
//
// On an image with the relay (LabelRelay: the local build), every node
// and Sentinel runs behind sim/link's relay, which takes the link faults
// (blackhole, reset, loss, bandwidth, delay) in user space, on any kernel
// (relay.go).
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"github.com/redisha-sim/redisha-sim/sim/fault"
	"github.com/redisha-sim/redisha-sim/sim/link"
	"github.com/redisha-sim/redisha-sim/sim/rig"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// Labels every container and network of a run carries.
const (
	LabelProject = "redisha-sim"
	LabelRun     = "redisha-sim.run"
	LabelRole    = "redisha-sim.role"
)

// Ports inside the containers.
const (
	RedisPort    = 6379
	SentinelPort = 26379
	// Behind the relay (an image with LabelRelay), Redis and Sentinel
	// listen on loopback at these ports, the relay on RedisPort and
	// SentinelPort on every address, and its control endpoint on
	// RelayControlPort.
	RedisInnerPort    = 6380
	SentinelInnerPort = 26380
	RelayControlPort  = 7390
)

// StopTimeout is longer than Redis's own shutdown-timeout (10s), so docker
// stop lets Redis finish its graceful shutdown.
const StopTimeout = 15

// Backend runs clusters in containers.
type Backend struct {
	// Images overrides the images (zero fields: ImagesFor's choice).
	Images Images
}

// Name is "docker".
func (Backend) Name() string { return fault.Docker }

var tcLoggerOnce sync.Once

// prepareEnv configures testcontainers for machines without a registry:
// its reaper (Ryuk) cannot be pulled, so cleanup is ours; inside a
// container it must not guess another host.
func prepareEnv() {
	tcLoggerOnce.Do(func() { setTCLogger(slog.New(slog.DiscardHandler)) })
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if _, err := os.Stat("/.dockerenv"); err == nil && os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
}

// tcLogger sends testcontainers' messages to a run's log, at debug level.
type tcLogger struct{ log *slog.Logger }

func (l tcLogger) Printf(format string, args ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, args...)), "from", "testcontainers")
}

func setTCLogger(log *slog.Logger) {
	tclog.SetDefault(tcLogger{log})
}

func dockerClient(ctx context.Context) (*client.Client, error) {
	prepareEnv()
	c, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to docker: %w", err)
	}
	return c.Client, nil
}

// Cluster is a running set of containers.
type Cluster struct {
	runID     string
	labels    map[string]string
	cli       *client.Client
	cluster   *testcontainers.DockerNetwork
	clients   *testcontainers.DockerNetwork
	clusterP  netip.Prefix
	clientsP  netip.Prefix
	images    Images
	topo      rig.Topology
	log       *slog.Logger
	nodes     []*Container
	groups    [][]*Container // nodes by group, each group's initial master first
	sentinels []*Container
	hosts     []rig.Instance
	extra     []*Container // proxies

	// relay is set when the Redis image carries the relay (LabelRelay):
	// nodes and Sentinels run behind it and take the link faults.
	relay bool
	// nodeIPs and sentinelIPs are the addresses, on both networks, of
	// every node and Sentinel of the topology: the relays' peer classes.
	nodeIPs, sentinelIPs []netip.Addr
	hc                   *http.Client

	mu     sync.Mutex
	byAddr map[string]string
	// moves counts the reschedules: the n-th moves its container to host
	// number firstMovedHost+n of both /24s.
	moves   int
	closing bool
}

// Container is one container of the cluster.
type Container struct {
	name string
	kind rig.Kind
	c    *testcontainers.DockerContainer
	// mu guards the addresses, which a reschedule changes while the
	// harness reads them.
	mu        sync.Mutex
	clusterIP netip.Addr
	clientsIP netip.Addr
	// former are the clients and cluster addresses a reschedule left.
	former   []netip.Addr
	port     int
	password string
	cl       *Cluster
	// relayed are the requests this container's relay has taken since
	// the last heal of each, sent again when a start or restart gives a
	// new relay (guarded by cl.mu).
	relayed []link.Request
}

// Start creates the networks and the containers: every group's first node
// as master, its others as its replicas, then the Sentinels, each
// monitoring every group's master; it returns once the replicas are in
// sync and every Sentinel knows, for every master, every replica and every
// other Sentinel. On error everything created is removed.
func (b Backend) Start(ctx context.Context, t rig.Topology, log *slog.Logger) (_ rig.Cluster, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	setTCLogger(log)
	runID := runIDFromEnv()
	cl := &Cluster{runID: runID, cli: cli, topo: t, log: log.With("run", runID), byAddr: map[string]string{},
		labels: map[string]string{LabelProject: "1", LabelRun: runID}}
	for k, v := range ownerLabels() {
		cl.labels[k] = v
	}
	cl.images = ImagesFor(firstNonEmpty(b.Images.Redis, t.Images.Redis), firstNonEmpty(b.Images.HAProxy, t.Images.HAProxy), firstNonEmpty(b.Images.Proxy, t.Images.Proxy))
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cl.Close(cctx)
		}
	}()
	if err := cl.requireImage(ctx, cl.images.Redis); err != nil {
		return nil, err
	}
	if cl.relay, err = hasRelay(ctx, cli, cl.images.Redis); err != nil {
		return nil, err
	}
	cl.hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if err := cl.createNetworks(ctx, t.Subnet); err != nil {
		return nil, err
	}
	if err := cl.attachRunner(ctx); err != nil {
		return nil, err
	}
	n := 0
	for _, g := range t.Groups {
		for range g.Nodes {
			cl.nodeIPs = append(cl.nodeIPs, cl.ip(cl.clusterP, nodeHostNumber(n)), cl.ip(cl.clientsP, nodeHostNumber(n)))
			n++
		}
	}
	for i := range t.Sentinels {
		cl.sentinelIPs = append(cl.sentinelIPs, cl.ip(cl.clusterP, 20+i), cl.ip(cl.clientsP, 20+i))
	}
	var masterIPs []netip.Addr
	i := 0
	for _, g := range t.Groups {
		if len(g.Nodes) == 0 {
			return nil, fmt.Errorf("start group %s: no node", g.Name)
		}
		masterIP := cl.ip(cl.clusterP, nodeHostNumber(i))
		masterIPs = append(masterIPs, masterIP)
		master := masterIP.String()
		if t.AnnounceHostnames {
			master = g.Nodes[0]
		}
		var group []*Container
		for j, name := range g.Nodes {
			c, err := cl.runNode(ctx, t, name, i, j > 0, master)
			if err != nil {
				return nil, err
			}
			group = append(group, c)
			i++
		}
		cl.groups = append(cl.groups, group)
	}
	for _, n := range cl.nodes {
		if err := waitPing(ctx, n.Addr(), n.password, 30*time.Second); err != nil {
			return nil, fmt.Errorf("%s: %w", n.name, err)
		}
	}
	for _, g := range cl.groups {
		if err := cl.waitReplicasSynced(ctx, g); err != nil {
			return nil, err
		}
	}
	for i, name := range t.Sentinels {
		conf := sentinelConf(t, masterIPs)
		if cl.relay {
			// Behind the relay: Sentinel announces the relay's address
			// to the others (hello messages), not its loopback port.
			// With announce_hostnames, by its name, as charts run it.
			announce := cl.ip(cl.clusterP, 20+i).String()
			if t.AnnounceHostnames {
				announce = name
			}
			conf += fmt.Sprintf("bind 127.0.0.1\nsentinel announce-ip %s\nsentinel announce-port %d\n", announce, SentinelPort)
			conf = strings.Replace(conf, fmt.Sprintf("port %d\n", SentinelPort), fmt.Sprintf("port %d\n", SentinelInnerPort), 1)
		}
		files := []testcontainers.ContainerFile{{Reader: strings.NewReader(conf), ContainerFilePath: "/data/sentinel.conf", FileMode: 0o666}}
		c, err := cl.run(ctx, name, rig.KindSentinel, cl.images.Redis, 20+i, cl.behindRelay(SentinelPort, SentinelInnerPort, []string{"redis-server", "/data/sentinel.conf", "--sentinel"}), files, nil)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		c.port = SentinelPort
		cl.sentinels = append(cl.sentinels, c)
	}
	if err := cl.waitSentinelsDiscovered(ctx); err != nil {
		return nil, err
	}
	if cl.hosts, err = cl.placeHosts(t.Hosts); err != nil {
		return nil, err
	}
	return cl, nil
}

// nodeHostNumber is the host number, on both /24s, of the i-th node of
// the topology: 10-19 for the first ten (as a single group always had),
// then from 50, clear of the Sentinels (20-29) and the proxy (30).
func nodeHostNumber(i int) int {
	if i < 10 {
		return 10 + i
	}
	return 40 + i
}

// runNode starts the i-th node of the topology, a replica of master (an
// IP, or with AnnounceHostnames the master's container name) when replica
// is set.
func (cl *Cluster) runNode(ctx context.Context, t rig.Topology, name string, i int, replica bool, master string) (*Container, error) {
	args := []string{"redis-server", "--port", strconv.Itoa(RedisPort), "--bind", "0.0.0.0", "--protected-mode", "no",
		"--dir", "/data", "--appendonly", "no", "--repl-diskless-sync-delay", "0"}
	if t.Persistence {
		args = append(args, "--save", "3600 1 300 100 60 10000")
	} else {
		args = append(args, "--save", "")
	}
	if t.Password != "" {
		args = append(args, "--requirepass", t.Password, "--masterauth", t.Password)
	}
	if t.MinReplicasToWrite > 0 {
		args = append(args, "--min-replicas-to-write", strconv.Itoa(t.MinReplicasToWrite),
			"--min-replicas-max-lag", strconv.Itoa(int(t.MinReplicasMaxLag.Seconds())))
	}
	if replica {
		args = append(args, "--replicaof", master, strconv.Itoa(RedisPort))
	}
	// A replica announces to its master (INFO replication, and so to
	// Sentinel) the address the others reach it by: its name on both
	// networks (an alias) with announce_hostnames; behind the relay the
	// relay's address, not the loopback port Redis listens on.
	announce := ""
	switch {
	case t.AnnounceHostnames:
		announce = name
	case cl.relay:
		announce = AddressArg
	}
	if announce != "" {
		args = append(args, "--replica-announce-ip", announce)
	}
	if cl.relay {
		args[2], args[4] = strconv.Itoa(RedisInnerPort), "127.0.0.1"
		args = append(args, "--replica-announce-port", strconv.Itoa(RedisPort))
	}
	c, err := cl.run(ctx, name, rig.KindNode, cl.images.Redis, nodeHostNumber(i), cl.behindRelay(RedisPort, RedisInnerPort, args), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.port, c.password = RedisPort, t.Password
	cl.nodes = append(cl.nodes, c)
	return c, nil
}

// placeHosts makes the topology's hosts of the cluster's containers.
func (cl *Cluster) placeHosts(hosts []rig.Host) ([]rig.Instance, error) {
	byName := map[string]rig.Stepper{}
	for _, c := range append(append([]*Container(nil), cl.nodes...), cl.sentinels...) {
		byName[c.name] = c
	}
	return rig.PlaceHosts(hosts, fault.Docker, byName)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// requireImage fails with advice when an image is missing (no registry
// can be reached here to pull it), or is a local build of an older
// ImageRevision.
func (cl *Cluster) requireImage(ctx context.Context, image string) error {
	rev, err := imageRevision(ctx, cl.cli, image)
	if err != nil {
		return fmt.Errorf("image %s is not available (%v): run 'redisha-sim images' (make images) to build it from Debian's packages, or set %s/%s to an image you can pull", image, err, EnvRedisImage, EnvHAProxyImage)
	}
	if ownBuild(image) && rev != ImageRevision {
		return fmt.Errorf("image %s was built by an older redisha-sim (revision %q, want %s): run 'redisha-sim images' (make images) again", image, rev, ImageRevision)
	}
	return nil
}

// createNetworks creates the two networks on free /24 subnets (or the
// scenario's cluster subnet).
func (cl *Cluster) createNetworks(ctx context.Context, want string) error {
	res, err := cl.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	var used []netip.Prefix
	for _, n := range res.Items {
		for _, c := range n.IPAM.Config {
			if c.Subnet.IsValid() {
				used = append(used, c.Subnet)
			}
		}
	}
	free := func() (netip.Prefix, error) {
		for tries := 0; tries < 200; tries++ {
			n, _ := rand.Int(rand.Reader, big.NewInt(200))
			p := netip.MustParsePrefix(fmt.Sprintf("172.%d.%d.0/24", 24+n.Int64()%7, n.Int64()))
			ok := true
			for _, u := range used {
				if u.Overlaps(p) {
					ok = false
				}
			}
			if ok {
				used = append(used, p)
				return p, nil
			}
		}
		return netip.Prefix{}, errors.New("no free /24 subnet in 172.24.0.0/13")
	}
	if want != "" {
		p, err := netip.ParsePrefix(want)
		if err != nil {
			return fmt.Errorf("network.subnet %q: %w", want, err)
		}
		cl.clusterP = p.Masked()
		used = append(used, cl.clusterP)
	} else if cl.clusterP, err = free(); err != nil {
		return err
	}
	if cl.clientsP, err = free(); err != nil {
		return err
	}
	mk := func(p netip.Prefix, role string) (*testcontainers.DockerNetwork, error) {
		labels := cl.roleLabels(role)
		return tcnetwork.New(ctx, tcnetwork.WithLabels(labels),
			tcnetwork.WithIPAM(&network.IPAM{Config: []network.IPAMConfig{{Subnet: p, Gateway: cl.ip(p, 1)}}}))
	}
	if cl.cluster, err = mk(cl.clusterP, "cluster-network"); err != nil {
		return fmt.Errorf("create the cluster network: %w", err)
	}
	if cl.clients, err = mk(cl.clientsP, "clients-network"); err != nil {
		return fmt.Errorf("create the clients network: %w", err)
	}
	return nil
}

func (cl *Cluster) roleLabels(role string) map[string]string {
	m := map[string]string{LabelRole: role}
	for k, v := range cl.labels {
		m[k] = v
	}
	return m
}

// ip is host number n of a /24.
func (cl *Cluster) ip(p netip.Prefix, n int) netip.Addr {
	b := p.Addr().As4()
	b[3] = byte(n)
	return netip.AddrFrom4(b)
}

// run starts a container with fixed addresses (host number n) on both
// networks.
func (cl *Cluster) run(ctx context.Context, name string, kind rig.Kind, image string, n int, cmd []string, files []testcontainers.ContainerFile, entrypoint []string) (*Container, error) {
	c := &Container{name: name, kind: kind, clusterIP: cl.ip(cl.clusterP, n), clientsIP: cl.ip(cl.clientsP, n), cl: cl}
	cl.mu.Lock()
	cl.byAddr[c.clusterIP.String()] = name
	cl.byAddr[c.clientsIP.String()] = name
	if kind == rig.KindNode {
		cl.byAddr[name] = name
	}
	cl.mu.Unlock()
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithCmd(cmd...),
		testcontainers.WithLabels(cl.roleLabels(string(kind))),
		testcontainers.WithName(fmt.Sprintf("redisha-%s-%s", cl.runID, name)),
		tcnetwork.WithNetwork([]string{name}, cl.cluster),
		testcontainers.WithEndpointSettingsModifier(func(m map[string]*network.EndpointSettings) {
			if ep := m[cl.cluster.Name]; ep != nil {
				ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: c.clusterIP}
			}
		}),
		testcontainers.WithConfigModifier(func(cfg *container.Config) {
			t := StopTimeout
			cfg.StopTimeout = &t
		}),
		testcontainers.WithAdditionalLifecycleHooks(testcontainers.ContainerLifecycleHooks{
			PostCreates: []testcontainers.ContainerHook{func(ctx context.Context, ctr testcontainers.Container) error {
				_, err := cl.cli.NetworkConnect(ctx, cl.clients.ID, client.NetworkConnectOptions{
					Container:      ctr.GetContainerID(),
					EndpointConfig: &network.EndpointSettings{Aliases: []string{name}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: c.clientsIP}},
				})
				return err
			}},
		}),
	}
	if len(files) > 0 {
		opts = append(opts, testcontainers.WithFiles(files...))
	}
	if entrypoint != nil {
		opts = append(opts, testcontainers.WithEntrypoint(entrypoint...))
	}
	ctr, err := testcontainers.Run(ctx, image, opts...)
	if ctr != nil {
		c.c = ctr
		cl.mu.Lock()
		if kind == rig.KindProxy {
			cl.extra = append(cl.extra, c)
		}
		cl.mu.Unlock()
	}
	if err != nil {
		if ctr != nil && kind != rig.KindProxy {
			cl.extra = append(cl.extra, c) // removed by Close
		}
		return nil, err
	}
	return c, nil
}

// waitPing waits until addr answers PING.
func waitPing(ctx context.Context, addr, password string, limit time.Duration) error {
	rc := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
	defer rc.Close()
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err = rc.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s does not answer PING after %v: %w", addr, limit, err)
}

// waitReplicasSynced waits until a group's replicas (group[1:]) are in
// sync with its master (group[0]).
func (cl *Cluster) waitReplicasSynced(ctx context.Context, group []*Container) error {
	deadline := time.Now().Add(60 * time.Second)
	// The master lists every replica as online.
	mc := redis.NewClient(&redis.Options{Addr: group[0].Addr(), Password: group[0].password, Protocol: 2, DisableIdentity: true})
	defer mc.Close()
	for {
		info, err := mc.Info(ctx, "replication").Result()
		if err == nil && strings.Count(info, "state=online") == len(group)-1 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("master %s does not list its replicas online: %v %q", group[0].name, err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range group[1:] {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr(), Password: n.password, Protocol: 2, DisableIdentity: true})
		for {
			info, err := rc.Info(ctx, "replication").Result()
			if err == nil && strings.Contains(info, "master_link_status:up") {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				rc.Close()
				return fmt.Errorf("replica %s did not sync: %v %q", n.name, err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rc.Close()
	}
	return nil
}

// sentinelConf is every Sentinel's sentinel.conf: a monitor line and the
// settings per group, the nodes' password as auth-pass, and the
// Sentinels' own password as requirepass (Sentinel authenticates to the
// other Sentinels with it too, so all share it).
func sentinelConf(t rig.Topology, masterIPs []netip.Addr) string {
	conf := fmt.Sprintf("port %d\ndir /data\nsentinel resolve-hostnames no\n", SentinelPort)
	if t.AnnounceHostnames {
		// As Kubernetes charts run it: masters monitored, and every node
		// reported, by host name.
		conf = fmt.Sprintf("port %d\ndir /data\nsentinel resolve-hostnames yes\nsentinel announce-hostnames yes\n", SentinelPort)
	}
	if t.SentinelPassword != "" {
		conf += fmt.Sprintf("requirepass %s\n", t.SentinelPassword)
	}
	for k, g := range t.Groups {
		conf += fmt.Sprintf("sentinel monitor %s %s %d %d\n"+
			"sentinel down-after-milliseconds %s %d\nsentinel failover-timeout %s %d\nsentinel parallel-syncs %s %d\n",
			g.MasterName, monitored(t, k, masterIPs), RedisPort, t.Quorum,
			g.MasterName, t.DownAfter.Milliseconds(), g.MasterName, t.FailoverTimeout.Milliseconds(), g.MasterName, t.ParallelSyncs)
		if t.Password != "" {
			conf += fmt.Sprintf("sentinel auth-pass %s %s\n", g.MasterName, t.Password)
		}
	}
	return conf
}

// monitored is the address group k's master is monitored at: its IP, or
// with AnnounceHostnames its container name.
func monitored(t rig.Topology, k int, masterIPs []netip.Addr) string {
	if t.AnnounceHostnames {
		return t.Groups[k].Nodes[0]
	}
	return masterIPs[k].String()
}

func (cl *Cluster) waitSentinelsDiscovered(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range cl.sentinels {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: cl.topo.SentinelPassword, Protocol: 2, DisableIdentity: true})
		for k, g := range cl.topo.Groups {
			want := []string{"num-slaves", strconv.Itoa(len(cl.groups[k]) - 1), "num-other-sentinels", strconv.Itoa(len(cl.sentinels) - 1)}
			for {
				m, err := rc.Do(ctx, "SENTINEL", "master", g.MasterName).StringSlice()
				if err == nil && dictHas(m, want) && replicasReady(ctx, rc, g.MasterName) {
					break
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					rc.Close()
					return fmt.Errorf("sentinel %s did not discover group %s: %v %v", s.name, g.Name, err, m)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		rc.Close()
	}
	return nil
}

// replicasReady reports whether a Sentinel has connected to every replica
// it lists and read its INFO: a replica it has only just discovered (from
// the master's INFO) is flagged disconnected until then, and a failover
// asked for meanwhile finds no replica to promote (NOGOODSLAVE).
func replicasReady(ctx context.Context, rc *redis.Client, master string) bool {
	rs, err := rc.Do(ctx, "SENTINEL", "replicas", master).Slice()
	if err != nil {
		return false
	}
	for _, r := range rs {
		kv, ok := r.([]any)
		if !ok {
			return false
		}
		var d []string
		for _, v := range kv {
			s, _ := v.(string)
			d = append(d, s)
		}
		if !dictHas(d, []string{"flags", "slave", "master-link-status", "ok"}) {
			return false
		}
	}
	return true
}

func dictHas(d, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for j := 0; j+1 < len(d); j += 2 {
			if d[j] == kv[i] && d[j+1] == kv[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Nodes returns the Redis containers.
func (cl *Cluster) Nodes() []rig.Instance {
	return rig.Instances(cl.nodes)
}

// Sentinels returns the Sentinel containers.
func (cl *Cluster) Sentinels() []rig.Instance {
	return rig.Instances(cl.sentinels)
}

// Hosts returns the hosts: each acts on all its containers at once.
func (cl *Cluster) Hosts() []rig.Instance { return cl.hosts }

// NodeByAddr names the node at an address on either network, or at its
// container name (as Sentinel and the replicas report it with
// AnnounceHostnames).
func (cl *Cluster) NodeByAddr(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != strconv.Itoa(RedisPort) {
		return "", false
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	name, ok := cl.byAddr[host]
	return name, ok
}

// LookupHost resolves a node's container name to its addresses on both
// networks, as Docker's DNS does inside the networks (the harness's
// host cannot ask it); other names go to the system's resolver. An
// in-process proxy compares the host names Sentinel reports with
// AnnounceHostnames through it (proxy.Resolver).
func (cl *Cluster) LookupHost(ctx context.Context, host string) ([]string, error) {
	for _, n := range cl.nodes {
		if strings.EqualFold(n.name, host) {
			return []string{n.clusterIP.String(), n.clientsIP.String()}, nil
		}
	}
	return net.DefaultResolver.LookupHost(ctx, host)
}

// SentinelAddr is a node's address on the cluster network, as Sentinel
// and the replicas know it (the proxy is on that network too).
func (cl *Cluster) SentinelAddr(name string) string {
	for _, n := range cl.nodes {
		if n.name == name {
			cluster, _ := n.ips()
			return net.JoinHostPort(cluster.String(), strconv.Itoa(RedisPort))
		}
	}
	return ""
}

// Close removes every container and both networks of the run.
func (cl *Cluster) Close(ctx context.Context) error {
	cl.mu.Lock()
	cl.closing = true
	all := append(append(append([]*Container(nil), cl.extra...), cl.sentinels...), cl.nodes...)
	cl.mu.Unlock()
	var errs []error
	for _, c := range all {
		if c.c != nil {
			if err := c.c.Terminate(ctx); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", c.name, err))
			}
		}
	}
	cl.detachRunner(ctx)
	for _, n := range []*testcontainers.DockerNetwork{cl.clients, cl.cluster} {
		if n != nil {
			if err := n.Remove(ctx); err != nil {
				errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			}
		}
	}
	// A start cancelled while a create request was in flight can leave a
	// container or network the daemon made but whose ID never reached us:
	// remove whatever still carries this run's label.
	if err := cl.sweep(ctx); err != nil {
		errs = append(errs, err)
	}
	cl.cli.Close()
	return errors.Join(errs...)
}

// sweep removes the containers, then the networks, labelled with this run's
// ID. It lists twice when the first pass found something, since a create the
// daemon was still handling can land after the first list.
func (cl *Cluster) sweep(ctx context.Context) error {
	f := client.Filters{}
	f.Add("label", LabelRun+"="+cl.runID)
	var errs []error
	for pass := 0; pass < 2; pass++ {
		cs, err := cl.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			return fmt.Errorf("list the run's containers: %w", err)
		}
		ns, err := cl.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			return fmt.Errorf("list the run's networks: %w", err)
		}
		if len(cs.Items)+len(ns.Items) == 0 {
			break
		}
		for _, c := range cs.Items {
			if _, err := cl.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
			}
		}
		for _, n := range ns.Items {
			if _, err := cl.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			}
		}
		if pass == 0 {
			select {
			case <-ctx.Done():
				return errors.Join(append(errs, ctx.Err())...)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists the names of the containers and networks labelled by
// redisha-sim that are left over: this process's, those of runs whose
// process is gone, and those whose owner cannot be checked. Runs another
// live process on this host is making are not listed.
func Leftovers(ctx context.Context) (containers, networks []string, err error) {
	return listLabelled(ctx, false)
}

// Labelled lists the names of every container and network labelled by
// redisha-sim, runs in progress of other processes included (a test that
// starts the command watches its containers appear with it).
func Labelled(ctx context.Context) (containers, networks []string, err error) {
	return listLabelled(ctx, true)
}

func listLabelled(ctx context.Context, othersInProgress bool) (containers, networks []string, err error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer cli.Close()
	cs, ns, err := labelled(ctx, cli)
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	for _, c := range cs {
		if !othersInProgress && othersRunInProgress(c.Labels, host) {
			continue
		}
		containers = append(containers, strings.TrimPrefix(strings.Join(c.Names, ","), "/")+" ("+string(c.State)+")")
	}
	for _, n := range ns {
		if !othersInProgress && othersRunInProgress(n.Labels, host) {
			continue
		}
		networks = append(networks, n.Name)
	}
	return containers, networks, nil
}

// othersRunInProgress reports whether labels are those of a run another
// process on this host is still making: not a leftover, and not this
// process's to judge (a concurrent run, a test in another package).
func othersRunInProgress(labels map[string]string, host string) bool {
	return labels[LabelOwnerPID] != strconv.Itoa(os.Getpid()) && ownerOf(labels, host) == OwnerRunning
}

func labelled(ctx context.Context, cli *client.Client, moreLabels ...string) ([]container.Summary, []network.Summary, error) {
	f := client.Filters{}
	f.Add("label", LabelProject+"=1")
	for _, l := range moreLabels {
		f.Add("label", l)
	}
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, nil, fmt.Errorf("list containers: %w", err)
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, nil, fmt.Errorf("list networks: %w", err)
	}
	return cs.Items, ns.Items, nil
}
