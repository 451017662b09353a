package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestDeployFiles checks the fleet deployment of gotcpdump watch: the
// systemd unit with systemd-analyze verify, the Prometheus rules with
// promtool (syntax and a unit test that the storm alert fires), the
// DaemonSet manifest and the Grafana dashboard as parsed documents, and
// that every metric the rules and the dashboard query is one that
// gotcpdump watch really serves.
func TestDeployFiles(t *testing.T) {
	deploy := filepath.Join(root, "deploy")
	dir := t.TempDir()
	bin := goBuild(t, dir, "./cmd/gotcpdump")

	t.Run("systemd unit", func(t *testing.T) {
		unit, err := os.ReadFile(filepath.Join(deploy, "systemd", "gotcpdump-watch.service"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"DynamicUser=yes", "AmbientCapabilities=CAP_NET_RAW\n", "CapabilityBoundingSet=CAP_NET_RAW\n",
			"NoNewPrivileges=yes", "StateDirectory=gotcpdump", "StateDirectoryMode=0700", "--max-mb", "--dir /var/lib/gotcpdump"} {
			if !strings.Contains(string(unit), want) {
				t.Errorf("the unit lacks %q", want)
			}
		}
		// systemd-analyze wants the executable to exist.
		f := filepath.Join(dir, "gotcpdump-watch.service")
		os.WriteFile(f, []byte(strings.ReplaceAll(string(unit), "/usr/bin/gotcpdump", bin)), 0o644)
		out, err := exec.Command("systemd-analyze", "verify", f).CombinedOutput()
		if err != nil || strings.Contains(string(out), "gotcpdump-watch.service:") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	t.Run("prometheus rules", func(t *testing.T) {
		promtool := filepath.Join(root, "build", "tools", "promtool")
		for _, args := range [][]string{{"check", "rules", "gotcpdump-rules.yml"}, {"test", "rules", "gotcpdump-rules_test.yml"}} {
			c := exec.Command(promtool, args...)
			c.Dir = filepath.Join(deploy, "prometheus")
			if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "SUCCESS") {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})

	t.Run("daemonset", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(deploy, "kubernetes", "gotcpdump-watch.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var ds struct {
			Kind string
			Spec struct {
				Template struct {
					Metadata struct{ Annotations map[string]string }
					Spec     struct {
						HostNetwork bool `yaml:"hostNetwork"`
						Containers  []struct {
							Image           string
							PullPolicy      string `yaml:"imagePullPolicy"`
							Args            []string
							SecurityContext struct {
								Capabilities struct{ Add, Drop []string }
							} `yaml:"securityContext"`
							Resources struct{ Limits map[string]string }
						}
						Volumes []struct {
							HostPath struct{ Path string } `yaml:"hostPath"`
						}
					}
				}
			}
		}
		if err := yaml.Unmarshal(b, &ds); err != nil {
			t.Fatal(err)
		}
		tmpl := ds.Spec.Template
		if ds.Kind != "DaemonSet" || !tmpl.Spec.HostNetwork || len(tmpl.Spec.Containers) != 1 || len(tmpl.Spec.Volumes) != 1 {
			t.Fatalf("manifest: %+v", ds)
		}
		c := tmpl.Spec.Containers[0]
		if fmt.Sprint(c.SecurityContext.Capabilities.Add) != "[NET_RAW]" || fmt.Sprint(c.SecurityContext.Capabilities.Drop) != "[ALL]" {
			t.Errorf("capabilities %+v", c.SecurityContext.Capabilities)
		}
		// Kubernetes pulls a :latest image Always unless told otherwise,
		// and one built on the nodes is in no registry.
		if strings.HasSuffix(c.Image, ":latest") && c.PullPolicy != "IfNotPresent" && c.PullPolicy != "Never" {
			t.Errorf("image %s with pull policy %q", c.Image, c.PullPolicy)
		}
		if c.Resources.Limits["memory"] == "" || c.Resources.Limits["cpu"] == "" {
			t.Errorf("no resource limits: %v", c.Resources.Limits)
		}
		if tmpl.Spec.Volumes[0].HostPath.Path == "" {
			t.Error("no hostPath for the captures")
		}
		args := strings.Join(c.Args, " ")
		if tmpl.Metadata.Annotations["prometheus.io/scrape"] != "true" || !strings.Contains(args, "--metrics-addr :"+tmpl.Metadata.Annotations["prometheus.io/port"]) {
			t.Errorf("scrape annotations %v do not match the arguments %q", tmpl.Metadata.Annotations, args)
		}
	})

	t.Run("metrics exist", func(t *testing.T) {
		var dash struct {
			Panels []struct {
				Targets []struct{ Expr string }
			}
		}
		b, err := os.ReadFile(filepath.Join(deploy, "grafana", "gotcpdump-watch.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &dash); err != nil {
			t.Fatalf("dashboard: %v", err)
		}
		var exprs []string
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
		}
		rules, _ := os.ReadFile(filepath.Join(deploy, "prometheus", "gotcpdump-rules.yml"))
		exprs = append(exprs, string(rules))
		served := scrapeWatch(t, bin)
		name := regexp.MustCompile(`gotcpdump_[a-z_]+`)
		n := 0
		for _, e := range exprs {
			for _, m := range name.FindAllString(e, -1) {
				n++
				if !served[m] {
					t.Errorf("%s is queried but gotcpdump watch does not serve it", m)
				}
			}
		}
		if n < 10 {
			t.Errorf("only %d metric references found", n)
		}
	})
}

// scrapeWatch runs gotcpdump watch in a network namespace of its own and
// returns the metric names it serves.
func scrapeWatch(t *testing.T, bin string) map[string]bool {
	ns := fmt.Sprintf("gtdeploy%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	exec.Command("ip", "-n", ns, "link", "set", "lo", "up").Run()
	w := exec.Command("ip", "netns", "exec", ns, bin, "watch", "-i", "lo", "--dir", t.TempDir(), "--metrics-addr", "127.0.0.1:9871")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = w.Process.Signal(syscall.SIGTERM)
		_ = w.Wait()
	}()
	var out []byte
	for i := 0; i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		var err error
		if out, err = exec.Command("ip", "netns", "exec", ns, "curl", "-sf", "http://127.0.0.1:9871/metrics").Output(); err == nil {
			break
		}
	}
	// curl closed first, so its socket is in TIME_WAIT: after the next
	// sample (1 s) the per-port series exist too.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, _ = exec.Command("ip", "netns", "exec", ns, "curl", "-sf", "http://127.0.0.1:9871/metrics").Output()
		if strings.Contains(string(out), "# TYPE gotcpdump_time_wait_sockets_by_port ") {
			break
		}
	}
	served := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			served[f[2]] = true
		}
	}
	if len(served) == 0 {
		t.Fatalf("no metrics scraped:\n%s", out)
	}
	return served
}
