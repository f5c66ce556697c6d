package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// Images are the container images a run uses.
type Images struct {
	Redis   string
	HAProxy string
	Proxy   string
}

// Names of the images `redisha-sim images` builds from Debian's packages.
const (
	LocalRedis   = "redisha-sim/redis:7.0-debian"
	LocalHAProxy = "redisha-sim/haproxy:2.6-debian"
	LocalProxy   = "redisha-sim/proxy:local"
)

// Environment variables that choose other images, e.g. the official
// redis:7.0 and haproxy:2.6 on a machine that can pull them.
const (
	EnvRedisImage   = "REDISHA_REDIS_IMAGE"
	EnvHAProxyImage = "REDISHA_HAPROXY_IMAGE"
	EnvProxyImage   = "REDISHA_PROXY_IMAGE"
)

// LabelRelay marks an image that carries redisha-sim at
// /usr/local/bin/redisha-sim for its relay (`redisha-sim relay`): the
// docker backend runs its nodes and Sentinels behind the relay, and can
// then fault their links, only on such an image.
const LabelRelay = "redisha-sim.relay"

// RelayBinary is where the Redis image keeps redisha-sim for the relay.
const RelayBinary = "/usr/local/bin/redisha-sim"

// AddressArg, as an argument of the program the relay runs, stands for
// the container's address on the cluster network when it starts (the
// relay's --address-in).
const AddressArg = "{cluster-address}"

// buildTags are the tags BuildLocalImages builds and MissingImages
// checks: for each image, the environment's choice when it names a
// redisha-sim/ image (a private build, e.g. redisha-sim/redis:dev-relay,
// which leaves the shared local tags alone), else the local default.
// Another name (redis:7.0) is an image to pull, never built here.
func buildTags() map[string]string {
	tags := map[string]string{"redis": LocalRedis, "haproxy": LocalHAProxy, "proxy": LocalProxy}
	for w, env := range map[string]string{"redis": EnvRedisImage, "haproxy": EnvHAProxyImage, "proxy": EnvProxyImage} {
		if v := os.Getenv(env); strings.HasPrefix(v, "redisha-sim/") {
			tags[w] = v
		}
	}
	return tags
}

// ownBuild reports whether image is one BuildLocalImages makes (a
// redisha-sim/ tag), whose revision must then be current.
func ownBuild(image string) bool { return strings.HasPrefix(image, "redisha-sim/") }

// ImagesFor resolves a scenario's images: its own choice, else the
// environment's, else the local builds.
func ImagesFor(redis, haproxy, proxy string) Images {
	pick := func(s, env, def string) string {
		if s != "" {
			return s
		}
		if v := os.Getenv(env); v != "" {
			return v
		}
		return def
	}
	return Images{pick(redis, EnvRedisImage, LocalRedis), pick(haproxy, EnvHAProxyImage, LocalHAProxy), pick(proxy, EnvProxyImage, LocalProxy)}
}

// ImageRevision is the revision of what BuildLocalImages puts in the
// images, kept in their label LabelImageRevision. It changes whenever the
// images' contents change, so that an image built by an older redisha-sim
// counts as missing and is built again. Revisions: 2 adds tc (iproute2)
// to the Redis image, for action delay; 3 replaces tc with redisha-sim's
// relay (LabelRelay), which does every link fault in user space.
const ImageRevision = "3"

// LabelImageRevision is the label that holds an image's ImageRevision.
const LabelImageRevision = "redisha-sim.image-revision"

// MissingImages lists which of the local images (redis, haproxy, proxy,
// under buildTags) the daemon does not have, or has from an older
// ImageRevision.
func MissingImages(ctx context.Context) ([]string, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	var missing []string
	tags := buildTags()
	for _, w := range []struct{ name, tag string }{{"redis", tags["redis"]}, {"haproxy", tags["haproxy"]}, {"proxy", tags["proxy"]}} {
		if rev, err := imageRevision(ctx, cli, w.tag); err != nil || rev != ImageRevision {
			missing = append(missing, w.name)
		}
	}
	return missing, nil
}

// imageRevision reads an image's LabelImageRevision ("" when unset).
func imageRevision(ctx context.Context, cli *client.Client, image string) (string, error) {
	res, err := cli.ImageInspect(ctx, image)
	if err != nil {
		return "", err
	}
	if res.Config == nil {
		return "", nil
	}
	return res.Config.Labels[LabelImageRevision], nil
}

// imageSpec is one image built FROM scratch out of host files.
type imageSpec struct {
	tag string
	// files maps host paths to image paths; their shared libraries come
	// along.
	files map[string]string
	// links are symlinks to create (image path -> target).
	links map[string]string
	// entrypoint is empty for images whose command names the program.
	entrypoint []string
	// labels are more labels for the image.
	labels map[string]string
}

// BuildLocalImages builds the images from this machine's Debian packages
// (redis-server, haproxy) and a redisha-sim binary (the proxy image, and
// the relay in the Redis image), for machines that reach no registry,
// under the tags buildTags gives. which selects "redis", "haproxy",
// "proxy" (all when empty); proxyBinary is the binary to put in the proxy
// and Redis images (it must be static: build it with CGO_ENABLED=0).
func BuildLocalImages(ctx context.Context, which []string, proxyBinary string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	self := proxyBinary
	tags := buildTags()
	specs := map[string]imageSpec{
		// redisha-sim's relay fronts every node and Sentinel (the link
		// faults).
		"redis": {
			tag:    tags["redis"],
			files:  map[string]string{"/usr/bin/redis-server": "/usr/local/bin/redis-server", self: RelayBinary},
			links:  map[string]string{"/usr/local/bin/redis-sentinel": "redis-server"},
			labels: map[string]string{LabelRelay: "1"},
		},
		"haproxy": {
			tag:   tags["haproxy"],
			files: map[string]string{"/usr/sbin/haproxy": "/usr/local/sbin/haproxy"},
		},
		"proxy": {
			tag:        tags["proxy"],
			files:      map[string]string{self: "/usr/local/bin/redisha-sim"},
			entrypoint: []string{"/usr/local/bin/redisha-sim"},
		},
	}
	if len(which) == 0 {
		which = []string{"redis", "haproxy", "proxy"}
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	setTCLogger(log)
	for _, w := range which {
		spec, ok := specs[w]
		if !ok {
			return fmt.Errorf("unknown image %q: want redis, haproxy or proxy", w)
		}
		if (w == "proxy" || w == "redis") && self == "" {
			return fmt.Errorf("the %s image needs a redisha-sim binary", w)
		}
		for host := range spec.files {
			if _, err := os.Stat(host); err != nil {
				return fmt.Errorf("image %s needs %s: install Debian's package that has it (redis-server, haproxy; make deps): %w", spec.tag, host, err)
			}
		}
		log.Info("building image", "tag", spec.tag)
		if err := buildImage(ctx, cli, spec); err != nil {
			return fmt.Errorf("build %s: %w", spec.tag, err)
		}
	}
	return nil
}

// buildImage assembles a root file system (the files, their ldd closure,
// passwd/group/nsswitch, /tmp, /data, busybox as /bin/sh when the host has
// it) and builds it with Docker's classic builder.
func buildImage(ctx context.Context, cli *client.Client, spec imageSpec) error {
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	added := map[string]bool{}
	addFile := func(host, img string, mode int64) error {
		if added[img] {
			return nil
		}
		added[img] = true
		b, err := os.ReadFile(host) // follows symlinks, as cp -L
		if err != nil {
			return err
		}
		if mode == 0 {
			fi, err := os.Stat(host)
			if err != nil {
				return err
			}
			mode = int64(fi.Mode().Perm())
		}
		if err := tw.WriteHeader(&tar.Header{Name: "rootfs" + img, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	}
	addText := func(img, text string, mode int64) error {
		if err := tw.WriteHeader(&tar.Header{Name: "rootfs" + img, Mode: mode, Size: int64(len(text)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write([]byte(text))
		return err
	}
	dir := func(img string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Name: "rootfs" + img + "/", Mode: mode, Typeflag: tar.TypeDir})
	}
	for host, img := range spec.files {
		if err := addFile(host, img, 0o755); err != nil {
			return err
		}
		libs, err := sharedLibraries(host)
		if err != nil {
			return err
		}
		for _, lib := range libs {
			mode := int64(0o644)
			if strings.Contains(filepath.Base(lib), "ld-linux") {
				mode = 0o755 // the dynamic loader must stay executable
			}
			if err := addFile(lib, lib, mode); err != nil {
				return err
			}
		}
	}
	for img, target := range spec.links {
		if err := tw.WriteHeader(&tar.Header{Name: "rootfs" + img, Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0o777}); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		if err := addFile("/bin/busybox", "/bin/busybox", 0o755); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "rootfs/bin/sh", Linkname: "busybox", Typeflag: tar.TypeSymlink, Mode: 0o777}); err != nil {
			return err
		}
	}
	for _, e := range []error{
		addText("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", 0o644),
		addText("/etc/group", "root:x:0:\nnogroup:x:65534:\n", 0o644),
		addText("/etc/nsswitch.conf", "hosts: files dns\n", 0o644),
		dir("/tmp", 0o1777), dir("/data", 0o777), dir("/etc/haproxy", 0o755), dir("/run", 0o755),
	} {
		if e != nil {
			return e
		}
	}
	df := "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nWORKDIR /data\n"
	if len(spec.entrypoint) > 0 {
		ep, _ := json.Marshal(spec.entrypoint)
		df += "ENTRYPOINT " + string(ep) + "\n"
	}
	df += "LABEL redisha-sim.image=1 " + LabelImageRevision + "=" + ImageRevision
	for k, v := range spec.labels {
		df += " " + k + "=" + v
	}
	df += "\n"
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write([]byte(df)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := cli.ImageBuild(ctx, &ctxTar, client.ImageBuildOptions{
		Tags: []string{spec.tag}, Dockerfile: "Dockerfile", Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}

var lddPath = regexp.MustCompile(`(/[^ ]+) \(0x`)

// sharedLibraries lists the libraries a binary loads (ldd), none for a
// static binary.
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") || strings.Contains(string(out), "statically linked") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %v: %s", bin, err, out)
	}
	var libs []string
	for _, m := range lddPath.FindAllStringSubmatch(string(out), -1) {
		libs = append(libs, m[1])
	}
	return libs, nil
}
