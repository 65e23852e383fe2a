// Package kubernetes_test checks the Kubernetes manifests of this folder
// offline: render.sh stamps them, every document must decode strictly
// (unknown or duplicate fields are errors) into the k8s.io/api type of its
// kind, and the objects must fit together as README.md describes.
package kubernetes_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// objects are the decoded documents of one rendering, by kind and name.
type objects struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pvcs        map[string]*corev1.PersistentVolumeClaim
	jobs        map[string]*batchv1.Job
	pods        map[string]*corev1.Pod
	text        string
}

// settings are the environment of one rendering.
type settings map[string]string

func baseSettings() settings {
	return settings{
		"IMAGE": "registry.example.com/ccsbench:test", "SHARDS": "3", "JOB_ID": "t1",
		"START_AT": "2030-01-02T03:04:05.678Z", "CONNS": "12", "RATE_SHAPE": "sine:9000+-3000/60s",
		"DURATION": "2m", "SEED": "7", "SENDER_ID": "42", "STORAGE_CLASS": "",
	}
}

func (s settings) with(kv ...string) settings {
	out := settings{}
	for k, v := range s {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// render runs render.sh with the settings and returns its standard output
// and standard error.
func render(t *testing.T, s settings, parts ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"render.sh"}, parts...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range s {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// decode splits a multi-document YAML stream and decodes each document
// strictly into the type of its kind.
func decode(t *testing.T, text string) *objects {
	t.Helper()
	o := &objects{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		pvcs: map[string]*corev1.PersistentVolumeClaim{}, jobs: map[string]*batchv1.Job{},
		pods: map[string]*corev1.Pod{}, text: text,
	}
	for i, doc := range regexp.MustCompile(`(?m)^---$`).Split(text, -1) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		var obj metav1.Object
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "batch/v1 Job":
			obj = &batchv1.Job{}
		case "v1 Pod":
			obj = &corev1.Pod{}
		default:
			t.Fatalf("document %d: unexpected kind %q of %q", i, tm.Kind, tm.APIVersion)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("document %d (%s): %v", i, tm.Kind, err)
		}
		name := obj.GetName()
		if name == "" {
			t.Fatalf("document %d (%s) has no name", i, tm.Kind)
		}
		switch obj := obj.(type) {
		case *appsv1.Deployment:
			o.deployments[name] = obj
		case *corev1.Service:
			o.services[name] = obj
		case *corev1.PersistentVolumeClaim:
			o.pvcs[name] = obj
		case *batchv1.Job:
			o.jobs[name] = obj
		case *corev1.Pod:
			o.pods[name] = obj
		}
	}
	return o
}

func renderAll(t *testing.T, s settings) *objects {
	t.Helper()
	out, stderr, err := render(t, s, "all")
	if err != nil {
		t.Fatalf("render.sh all: %v\n%s", err, stderr)
	}
	return decode(t, out)
}

func TestManifestsDecode(t *testing.T) {
	t.Parallel()
	o := renderAll(t, baseSettings())
	for _, n := range []int{len(o.deployments), len(o.services), len(o.pvcs), len(o.pods)} {
		if n != 1 {
			t.Errorf("rendered %d deployments, %d services, %d PVCs, %d pods; want one of each",
				len(o.deployments), len(o.services), len(o.pvcs), len(o.pods))
			break
		}
	}
	if len(o.jobs) != 2 {
		t.Errorf("rendered %d jobs; want 2 (shards and merge)", len(o.jobs))
	}
	if strings.Contains(o.text, "${") {
		t.Errorf("a placeholder is left in the rendered manifests")
	}
}

// arg returns the value of --name=VALUE (or "-name VALUE") in args.
func arg(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// mountFor returns the volume mount of c under which file lies.
func mountFor(c corev1.Container, file string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path.Clean(file), strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

func volume(spec corev1.PodSpec, name string) corev1.Volume {
	for _, v := range spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	return corev1.Volume{}
}

// checkWritesToResults checks that each output file lies on a writable
// mount of the results claim, in the job's directory.
func checkWritesToResults(t *testing.T, what string, spec corev1.PodSpec, c corev1.Container, jobID string, files ...string) {
	t.Helper()
	for _, f := range files {
		m, ok := mountFor(c, f)
		if !ok {
			t.Errorf("%s writes %s, which is on no volume mount", what, f)
			continue
		}
		v := volume(spec, m.Name)
		if m.ReadOnly || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "ccsbench-results" {
			t.Errorf("%s writes %s on mount %+v of volume %+v; want a writable mount of the claim ccsbench-results", what, f, m, v)
		}
		if m.SubPath != jobID {
			t.Errorf("%s mounts the results at subPath %q; want the job's directory %q", what, m.SubPath, jobID)
		}
	}
}

// checkReadsTLS checks that file lies on a read-only mount of the Secret
// ccsbench-fake-tls and is one of its keys.
func checkReadsTLS(t *testing.T, what string, spec corev1.PodSpec, c corev1.Container, file string) {
	t.Helper()
	m, ok := mountFor(c, file)
	v := volume(spec, m.Name)
	if !ok || !m.ReadOnly || v.Secret == nil || v.Secret.SecretName != "ccsbench-fake-tls" {
		t.Errorf("%s reads %s from mount %+v of volume %+v; want a read-only mount of the Secret ccsbench-fake-tls", what, file, m, v)
		return
	}
	key := path.Base(file)
	if key != "tls.crt" && key != "tls.key" {
		t.Errorf("%s reads %s; a kubernetes.io/tls Secret has tls.crt and tls.key", what, file)
	}
	if len(v.Secret.Items) > 0 && !slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == key }) {
		t.Errorf("%s reads %s, which the Secret volume's items %+v leave out", what, file, v.Secret.Items)
	}
}

// checkContainer checks what every container must do: references in its
// arguments resolve, secrets come from Secrets, it runs as non-root with a
// read-only root file system.
func checkContainer(t *testing.T, what string, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	// Kubernetes expands $(NAME) only for variables of the container's env.
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		for _, m := range regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).FindAllStringSubmatch(a, -1) {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("%s: argument %q refers to $(%s), which its env does not define", what, a, m[1])
			}
		}
		if strings.HasPrefix(a, "--api-key") || strings.HasPrefix(a, "-api-key") {
			t.Errorf("%s: argument %q; the API key must come from the environment, never an argument", what, a)
		}
	}
	for _, e := range c.Env {
		if strings.Contains(e.Name, "API_KEY") && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s: env %s is not taken from a Secret", what, e.Name)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: security context %+v; want a read-only root file system and no privilege escalation", what, sc)
	}
	if p := spec.SecurityContext; p == nil || p.RunAsNonRoot == nil || !*p.RunAsNonRoot {
		t.Errorf("%s: pod security context %+v; want runAsNonRoot", what, p)
	}
}

// onlyContainer returns the single container of a pod, after checking it
// with checkContainer and that it runs image with the subcommand.
func onlyContainer(t *testing.T, what string, spec corev1.PodSpec, image, subcommand string) corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%s pod has %d containers; want 1", what, len(spec.Containers))
	}
	c := spec.Containers[0]
	checkContainer(t, what, spec, c)
	if c.Image != image || len(c.Args) == 0 || c.Args[0] != subcommand {
		t.Errorf("%s container runs %s %v; want %s %s ...", what, c.Image, c.Args, image, subcommand)
	}
	return c
}

func TestFakeDeploymentAndService(t *testing.T) {
	t.Parallel()
	s := baseSettings()
	o := renderAll(t, s)
	d, svc := o.deployments["ccsbench-fake"], o.services["ccsbench-fake"]
	if d == nil || svc == nil {
		t.Fatalf("want a Deployment and a Service named ccsbench-fake; got %v, %v", d, svc)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Deployment selector %v (%v) does not select its own pods %v", d.Spec.Selector, err, d.Spec.Template.Labels)
	}
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the fake's pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	for name, j := range o.jobs {
		if selects(svc.Spec.Selector, j.Spec.Template.Labels) {
			t.Errorf("Service selector %v also selects the pods of Job %s", svc.Spec.Selector, name)
		}
	}
	spec := d.Spec.Template.Spec
	c := onlyContainer(t, "fake", spec, s["IMAGE"], "fake")
	for _, want := range []string{"--listen=0.0.0.0:5235", "--track-ids", "--stats-addr=:9090", "--sender-id=" + s["SENDER_ID"]} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("fake args %v lack %s", c.Args, want)
		}
	}
	for _, flag := range []string{"--cert", "--key"} {
		f, ok := arg(c.Args, flag)
		if !ok {
			t.Errorf("fake args %v lack %s", c.Args, flag)
			continue
		}
		checkReadsTLS(t, "fake "+flag, spec, c, f)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	want := map[string]int32{"ccs": 5235, "stats": 9090}
	for _, p := range svc.Spec.Ports {
		if got, ok := ports[p.TargetPort.String()]; !ok || got != want[p.Name] || p.Port != want[p.Name] {
			t.Errorf("Service port %s %d -> %s: the container has %v; want %v", p.Name, p.Port, p.TargetPort.String(), ports, want)
		}
	}
	if len(svc.Spec.Ports) != len(want) {
		t.Errorf("Service has ports %+v; want ccs 5235 and stats 9090", svc.Spec.Ports)
	}
	if pr := c.ReadinessProbe; pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Port.String() != "stats" {
		t.Errorf("fake readiness probe %+v; want an HTTP probe of the stats port (a TCP probe of the CCS port counts as a connection)", pr)
	}
}

func TestShardJob(t *testing.T) {
	t.Parallel()
	for _, tc := range []settings{
		baseSettings(),
		baseSettings().with("SHARDS", "1", "CONNS", "1", "JOB_ID", "12345"),
		baseSettings().with("SHARDS", "7", "CONNS", "7", "JOB_ID", "nightly-run-2", "RATE_SHAPE", "50000"),
	} {
		o := renderAll(t, tc)
		jobID, n := tc["JOB_ID"], tc["SHARDS"]
		j := o.jobs["ccsbench-shards-"+jobID]
		if j == nil {
			t.Fatalf("SHARDS=%s JOB_ID=%s: no Job ccsbench-shards-%s in %v", n, jobID, jobID, keys(o.jobs))
		}
		sp := j.Spec
		if sp.CompletionMode == nil || *sp.CompletionMode != batchv1.IndexedCompletion {
			t.Errorf("shard Job completionMode %s; want Indexed", show(sp.CompletionMode))
		}
		if sp.Completions == nil || sp.Parallelism == nil || fmt.Sprint(*sp.Completions) != n || fmt.Sprint(*sp.Parallelism) != n {
			t.Errorf("SHARDS=%s: completions %s, parallelism %s; want both %s (all shards at once)", n, show(sp.Completions), show(sp.Parallelism), n)
		}
		if sp.BackoffLimit == nil || *sp.BackoffLimit != 0 || sp.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("shard Job backoffLimit %s, restartPolicy %s; want 0 and Never (a late restart cannot rejoin --start-at)",
				show(sp.BackoffLimit), sp.Template.Spec.RestartPolicy)
		}
		spec := sp.Template.Spec
		c := onlyContainer(t, "shard", spec, tc["IMAGE"], "run")
		for flag, want := range map[string]string{
			"--shard": "$(JOB_COMPLETION_INDEX)/" + n, "--job": jobID, "--start-at": tc["START_AT"],
			"--conns": tc["CONNS"], "--rate-shape": tc["RATE_SHAPE"], "--duration": tc["DURATION"],
			"--seed": tc["SEED"], "--sender-id": tc["SENDER_ID"],
			"--json": "/results/shard-$(JOB_COMPLETION_INDEX).json",
			"--hlog": "/results/shard-$(JOB_COMPLETION_INDEX).hlog",
		} {
			if got, _ := arg(c.Args, flag); got != want {
				t.Errorf("SHARDS=%s: shard %s=%q; want %q", n, flag, got, want)
			}
		}
		var idx *corev1.EnvVar
		for i := range c.Env {
			if c.Env[i].Name == "JOB_COMPLETION_INDEX" {
				idx = &c.Env[i]
			}
		}
		if idx == nil || idx.ValueFrom == nil || idx.ValueFrom.FieldRef == nil ||
			idx.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("shard env JOB_COMPLETION_INDEX = %+v; want the completion-index annotation", idx)
		}
		// The target is the fake's Service, trusted through its certificate.
		target, _ := arg(c.Args, "--target")
		host, port, _ := strings.Cut(target, ":")
		svc := o.services[host]
		if svc == nil || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return fmt.Sprint(p.Port) == port && p.Name == "ccs" }) {
			t.Errorf("shard --target=%s: want the Service %s and its ccs port", target, host)
		}
		ca, ok := arg(c.Args, "--ca")
		if !ok || path.Base(ca) != "tls.crt" {
			t.Errorf("shard --ca=%q; want the fake's tls.crt", ca)
		}
		checkReadsTLS(t, "shard --ca", spec, c, ca)
		outs := []string{}
		for _, flag := range []string{"--json", "--hlog"} {
			v, _ := arg(c.Args, flag)
			outs = append(outs, strings.ReplaceAll(v, "$(JOB_COMPLETION_INDEX)", "0"))
		}
		checkWritesToResults(t, "shard", spec, c, jobID, outs...)
		// Live metrics on a declared port, announced to Prometheus.
		metrics, _ := arg(c.Args, "--metrics-addr")
		_, mport, _ := strings.Cut(metrics, ":")
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return fmt.Sprint(p.ContainerPort) == mport && p.Name == "metrics" }) ||
			j.Spec.Template.Annotations["prometheus.io/port"] != mport || j.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
			t.Errorf("shard --metrics-addr=%q, ports %+v, annotations %v; want a metrics container port and Prometheus annotations for it",
				metrics, c.Ports, j.Spec.Template.Annotations)
		}
		if sel := j.Spec.Template.Labels["app.kubernetes.io/instance"]; sel != jobID {
			t.Errorf("shard pods labelled instance=%q; want the job id %q", sel, jobID)
		}
		if pvc := o.pvcs["ccsbench-results"]; pvc == nil || !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
			t.Errorf("results claim %+v; want ccsbench-results, ReadWriteMany (shards on several nodes write at once)", pvc)
		}
	}
}

func TestMergeJob(t *testing.T) {
	t.Parallel()
	s := baseSettings()
	o := renderAll(t, s)
	j := o.jobs["ccsbench-merge-"+s["JOB_ID"]]
	if j == nil {
		t.Fatalf("no Job ccsbench-merge-%s in %v", s["JOB_ID"], keys(o.jobs))
	}
	spec := j.Spec.Template.Spec
	c := onlyContainer(t, "merge", spec, s["IMAGE"], "merge")
	if len(c.Args) < 2 {
		t.Fatalf("merge container args %v; want merge INPUTS -o ...", c.Args)
	}
	in := c.Args[1]
	if m, err := path.Match(in, "/results/shard-3.json"); err != nil || !m {
		t.Errorf("merge input %q does not match the shards' results /results/shard-3.json", in)
	}
	if m, _ := path.Match(in, "/results/merged.json"); m {
		t.Errorf("merge input %q matches its own output merged.json", in)
	}
	outJSON, _ := arg(c.Args, "-o")
	outMD, _ := arg(c.Args, "--md")
	if outJSON != "/results/merged.json" || outMD != "/results/merged.md" {
		t.Errorf("merge writes -o %q --md %q; want /results/merged.json and /results/merged.md", outJSON, outMD)
	}
	checkWritesToResults(t, "merge", spec, c, s["JOB_ID"], outJSON, outMD)
	// The reader pod sees the same claim.
	r := o.pods["ccsbench-results-reader"]
	if r == nil || volume(r.Spec, "results").PersistentVolumeClaim == nil ||
		volume(r.Spec, "results").PersistentVolumeClaim.ClaimName != "ccsbench-results" {
		t.Errorf("reader pod %v; want one that mounts the claim ccsbench-results", r)
	}
}

func TestStorageClass(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		class string
		want  *string
	}{{"", nil}, {"nfs-rwx", ptr("nfs-rwx")}} {
		out, stderr, err := render(t, baseSettings().with("STORAGE_CLASS", tt.class), "pvc")
		if err != nil {
			t.Fatalf("render.sh pvc with STORAGE_CLASS=%q: %v\n%s", tt.class, err, stderr)
		}
		pvc := decode(t, out).pvcs["ccsbench-results"]
		if got := pvc.Spec.StorageClassName; (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("STORAGE_CLASS=%q: storageClassName %s; want %s", tt.class, show(got), show(tt.want))
		}
	}
}

func TestRenderRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kv   []string
		want string
	}{
		{[]string{"SHARDS", "0"}, "SHARDS=0"},
		{[]string{"SHARDS", "abc"}, "SHARDS=abc"},
		{[]string{"SHARDS", "70000", "CONNS", "80000"}, "SHARDS=70000"},
		{[]string{"CONNS", "2"}, "CONNS=2"},
		{[]string{"JOB_ID", "Bad_ID"}, "JOB_ID=Bad_ID"},
		{[]string{"JOB_ID", strings.Repeat("a", 41)}, "JOB_ID="},
		{[]string{"START_AT", "tomorrow"}, "START_AT=tomorrow"},
		{[]string{"START_AT", "2030-01-02 03:04:05Z"}, "START_AT="},
		{[]string{"IMAGE", ""}, "IMAGE is required"},
		{[]string{"IMAGE", "a b"}, "IMAGE=a b"},
		{[]string{"RATE_SHAPE", "5000\n  injected: true"}, "RATE_SHAPE="},
		{[]string{"DURATION", "forever"}, "DURATION=forever"},
		{[]string{"STORAGE_CLASS", "Bad Class"}, "STORAGE_CLASS="},
	} {
		out, stderr, err := render(t, baseSettings().with(tc.kv...), "all")
		if err == nil || out != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("render.sh all with %v: error %v, %d bytes out, stderr %q; want a failure naming %q",
				tc.kv, err, len(out), stderr, tc.want)
		}
	}
	if _, stderr, err := render(t, baseSettings(), "everything"); err == nil || !strings.Contains(stderr, "unknown part") {
		t.Errorf("render.sh everything: %v, %q; want an unknown part error", err, stderr)
	}
}

func TestRenderDefaults(t *testing.T) {
	t.Parallel()
	// With only IMAGE set, the job id and start time are made up once and
	// reported, the same in every part.
	out, stderr, err := render(t, settings{"IMAGE": "ccsbench:dev"}, "shards", "merge")
	if err != nil {
		t.Fatalf("render.sh shards merge: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`job (\S+), 4 shards, start at (\S+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("render.sh stderr %q; want the job id and start time", stderr)
	}
	o := decode(t, out)
	shards, merge := o.jobs["ccsbench-shards-"+m[1]], o.jobs["ccsbench-merge-"+m[1]]
	if shards == nil || merge == nil {
		t.Fatalf("jobs %v; want shards and merge of job %s", keys(o.jobs), m[1])
	}
	if got, _ := arg(shards.Spec.Template.Spec.Containers[0].Args, "--start-at"); got != m[2] {
		t.Errorf("--start-at=%s; render.sh reported %s", got, m[2])
	}
}

func TestNoSecretsInManifests(t *testing.T) {
	t.Parallel()
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f.Name())
		if err != nil || f.IsDir() {
			continue
		}
		text := string(b)
		for _, bad := range []string{"fakeccs-test-key", "kind: Secret", "BEGIN CERTIFICATE", "PRIVATE KEY-----"} {
			if strings.Contains(text, bad) && !strings.HasSuffix(f.Name(), "_test.go") && f.Name() != "README.md" {
				t.Errorf("%s contains %q: keys and certificates belong in Secrets created by kubectl, not in files", f.Name(), bad)
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	from := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(text, -1)
	if len(from) < 2 {
		t.Fatalf("Dockerfile has %d stages; want a build stage and a runtime stage", len(from))
	}
	if base := from[len(from)-1][1]; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("Dockerfile runtime base %s; want distroless static or scratch", base)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=", "USER "} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(text); user == nil || strings.HasPrefix(user[1], "root") || strings.HasPrefix(user[1], "0") {
		t.Errorf("Dockerfile USER %v; want a non-root user", user)
	}
}

// selects reports whether a Service selector selects pods with podLabels.
func selects(selector, podLabels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if podLabels[k] != v {
			return false
		}
	}
	return true
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func ptr(s string) *string { return &s }

// show formats an optional field of an object: its value, or <nil>.
func show[T any](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}
