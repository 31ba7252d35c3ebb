package sidecar

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/render"
)

// Pipeline is one file-input LogPipeline as the webhook sees it: its input and the
// metadata of its rendered Secret.
type Pipeline struct {
	Name     string
	Input    v1.FileInput
	Manifest Manifest
}

// Options are the cluster-wide settings of injection.
type Options struct {
	// Image runs the sidecar; empty means the Fluent Bit image logplane ships with.
	Image string
	// Native injects an init container with restartPolicy Always (Kubernetes 1.29+),
	// which starts before and stops after the app and does not keep Jobs running.
	Native bool
	// OperatorNamespace is never injected.
	OperatorNamespace string
}

// Skipped is a pipeline that selects the pod but was not injected, and why.
type Skipped struct {
	Pipeline string
	Reason   string
}

// Result says what Mutate did.
type Result struct {
	// Injected are the pipelines the sidecar runs, sorted; empty when the pod is unchanged.
	Injected []string
	Skipped  []Skipped
	// Unchanged says why the whole pod was left alone; empty when it was injected.
	Unchanged string
}

// Where the sidecar's own volumes are mounted; an application directory in or above
// one of them cannot be shared.
const (
	configDir        = "/fluent-bit/etc"
	pipelinesDir     = "pipelines"
	volumeConfig     = "logplane-sidecar-config"
	volumeData       = "logplane-sidecar-data"
	volumeSecrets    = "logplane-sidecar-secrets"
	volumeAWS        = "logplane-sidecar-aws"
	volumeLogsPrefix = "logplane-logs-"
	metricsPortName  = fluentbit.SidecarMetricsPortName
)

var reservedDirs = []string{configDir, render.SidecarDataDir, render.SecretFilesDir, path.Dir(render.AWSCredentialsFile)}

// Mutate returns a copy of pod with the sidecar running pipelines (those that select
// the pod, in any order), or pod itself when nothing is injected. namespace is the
// pod's (a pod being created may not carry it yet). It never fails: anything it cannot
// do safely leaves the pod, or that pipeline, out, and says why.
func Mutate(pod *corev1.Pod, namespace string, pipelines []Pipeline, opts Options) (*corev1.Pod, Result) {
	if why := podExcluded(pod, namespace, opts); why != "" {
		return pod, Result{Unchanged: why}
	}
	if len(pipelines) == 0 {
		return pod, Result{Unchanged: "no file-input LogPipeline selects the pod"}
	}
	if why := podConflicts(pod); why != "" {
		return pod, Result{Unchanged: why}
	}

	sorted := slices.Clone(pipelines)
	slices.SortFunc(sorted, func(a, b Pipeline) int { return strings.Compare(a.Name, b.Name) })
	var res Result
	var accepted []Pipeline
	aws := ""
	for _, p := range sorted {
		why := pipelineProblem(pod, p)
		if why == "" && p.Manifest.AWS && aws != "" {
			// Fluent Bit reads one shared credentials file per process.
			why = "pipeline " + aws + " already brings static AWS keys; one sidecar takes one set"
		}
		if why != "" {
			res.Skipped = append(res.Skipped, Skipped{Pipeline: p.Name, Reason: why})
			continue
		}
		if p.Manifest.AWS {
			aws = p.Name
		}
		accepted = append(accepted, p)
		res.Injected = append(res.Injected, p.Name)
	}
	if len(accepted) == 0 {
		res.Unchanged = "no selecting pipeline can be injected"
		return pod, res
	}
	main, err := render.SidecarMain(includes(accepted))
	if err != nil {
		res.Injected = nil
		res.Unchanged = "the sidecar configuration cannot be written: " + err.Error()
		return pod, res
	}

	out := pod.DeepCopy()
	hashes := map[string]string{}
	for _, p := range accepted {
		hashes[p.Name] = p.Manifest.Hash
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[AnnotationConfig] = string(main)
	out.Annotations[AnnotationHashes] = FormatHashes(hashes)
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.Labels[LabelInjected] = Injected

	c := container(accepted, opts, podUser(pod))
	c.VolumeMounts = append(c.VolumeMounts, shareLogDirs(&out.Spec, accepted)...)
	out.Spec.Volumes = append(out.Spec.Volumes, volumes(accepted, aws)...)
	if opts.Native {
		always := corev1.ContainerRestartPolicyAlways
		c.RestartPolicy = &always
		out.Spec.InitContainers = append(out.Spec.InitContainers, c)
	} else {
		out.Spec.Containers = append(out.Spec.Containers, c)
	}
	return out, res
}

// podExcluded is the chain of reasons a pod is never touched, first match wins:
// cheap identity checks before anything that looks into the spec.
func podExcluded(pod *corev1.Pod, namespace string, opts Options) string {
	switch {
	case pod == nil || len(pod.Spec.Containers) == 0:
		return "the pod has no containers"
	// The webhook configuration excludes these already; this holds if it is edited.
	case namespace == "kube-system" || namespace == opts.OperatorNamespace:
		return "namespace " + namespace + " is never injected"
	// logplane's own pods (agents, collectors, the operator) must never depend on it.
	case pod.Labels[agent.LabelManagedBy] == "logplane":
		return "logplane's own pod"
	case hasContainer(pod, ContainerName):
		return "the pod already has a " + ContainerName + " container"
	}
	return ""
}

// podConflicts finds what the sidecar would clash with in the pod.
func podConflicts(pod *corev1.Pod) string {
	for _, v := range pod.Spec.Volumes {
		if v.Name == volumeConfig || v.Name == volumeData || v.Name == volumeSecrets || v.Name == volumeAWS || strings.HasPrefix(v.Name, volumeLogsPrefix) {
			return "the pod already has a volume named " + v.Name
		}
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		for _, p := range c.Ports {
			// Containers share the pod's network: a second listener would fail to bind.
			if p.ContainerPort == render.SidecarMetricsPort || p.Name == metricsPortName {
				return fmt.Sprintf("container %s uses port %d or name %s, which the sidecar needs", c.Name, p.ContainerPort, metricsPortName)
			}
		}
	}
	return ""
}

// pipelineProblem says why one pipeline cannot be injected into pod.
func pipelineProblem(pod *corev1.Pod, p Pipeline) string {
	if p.Manifest.Hash == "" || len(p.Manifest.Files) == 0 {
		return "its configuration is not rendered yet"
	}
	target := targetContainer(pod, p.Input)
	if target == nil {
		return "the pod has no container " + string(p.Input.Container)
	}
	if len(p.Input.Paths) == 0 {
		return "it declares no paths"
	}
	for _, f := range p.Input.Paths {
		dir := path.Dir(string(f))
		if dir == "/" || !path.IsAbs(dir) {
			return "path " + string(f) + " is not in a directory that can be shared"
		}
		for _, r := range reservedDirs {
			if within(dir, r) || within(r, dir) {
				return "directory " + dir + " overlaps the sidecar's own " + r
			}
		}
		for _, m := range target.VolumeMounts {
			// A mount above the directory hides the one we would add only if it is
			// the same path; a mount below it would hide part of the shared volume.
			if path.Clean(m.MountPath) != dir && within(m.MountPath, dir) {
				return "container " + target.Name + " mounts " + m.MountPath + " inside " + dir
			}
		}
	}
	return ""
}

func within(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func targetContainer(pod *corev1.Pod, in v1.FileInput) *corev1.Container {
	if in.Container == "" {
		return &pod.Spec.Containers[0]
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == string(in.Container) {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if c.Name == name {
			return true
		}
	}
	return false
}

// includes names each pipeline's fragment relative to the main file.
func includes(ps []Pipeline) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = path.Join(pipelinesDir, p.Name, p.Manifest.Files[0])
	}
	return out
}

// shareLogDirs gives each declared directory a volume shared by the containers that
// write there and the sidecar, and returns the sidecar's mounts. A directory a
// container already mounts keeps its volume: the sidecar mounts that one too.
func shareLogDirs(spec *corev1.PodSpec, ps []Pipeline) []corev1.VolumeMount {
	writers := map[string][]string{} // directory → containers writing there
	for _, p := range ps {
		name := string(p.Input.Container)
		if name == "" {
			name = spec.Containers[0].Name
		}
		for _, f := range p.Input.Paths {
			dir := path.Dir(string(f))
			if !slices.Contains(writers[dir], name) {
				writers[dir] = append(writers[dir], name)
			}
		}
	}
	dirs := make([]string, 0, len(writers))
	for d := range writers {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	var mounts []corev1.VolumeMount
	for i, dir := range dirs {
		var existing *corev1.VolumeMount
		for _, name := range writers[dir] {
			if m := mountAt(containerNamed(spec, name), dir); m != nil && existing == nil {
				existing = m.DeepCopy()
			}
		}
		shared := corev1.VolumeMount{Name: fmt.Sprintf("%s%d", volumeLogsPrefix, i), MountPath: dir}
		if existing != nil {
			shared = *existing
		} else {
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: shared.Name,
				VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}
		for _, name := range writers[dir] {
			c := containerNamed(spec, name)
			if mountAt(c, dir) == nil {
				m := shared
				m.ReadOnly = false
				c.VolumeMounts = append(c.VolumeMounts, m)
			}
		}
		shared.ReadOnly = true
		shared.MountPropagation = nil
		mounts = append(mounts, shared)
	}
	return mounts
}

func containerNamed(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	return nil
}

func mountAt(c *corev1.Container, dir string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if path.Clean(c.VolumeMounts[i].MountPath) == dir {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

// volumes are the sidecar's own: its configuration (the main file from the pod's
// annotation, each pipeline's files from its Secret), its state, and credential files.
func volumes(ps []Pipeline, awsPipeline string) []corev1.Volume {
	sources := []corev1.VolumeProjection{{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
		Path: render.MainFile, FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotationConfig + "']"}}}}}}
	var secretFiles []corev1.VolumeProjection
	seen := map[string]bool{}
	for _, p := range ps {
		items := make([]corev1.KeyToPath, len(p.Manifest.Files))
		for i, f := range p.Manifest.Files {
			items[i] = corev1.KeyToPath{Key: f, Path: path.Join(pipelinesDir, p.Name, f)}
		}
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: SecretName(p.Name)}, Items: items}})
		// The same key of the same Secret has the same file name in every pipeline.
		var files []corev1.KeyToPath
		for _, k := range p.Manifest.SecretFiles {
			if !seen[k] {
				seen[k] = true
				files = append(files, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		if len(files) > 0 {
			secretFiles = append(secretFiles, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: SecretName(p.Name)}, Items: files}})
		}
	}
	vols := []corev1.Volume{
		{Name: volumeConfig, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}},
		{Name: volumeData, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	if len(secretFiles) > 0 {
		vols = append(vols, corev1.Volume{Name: volumeSecrets, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: secretFiles}}})
	}
	if awsPipeline != "" {
		vols = append(vols, corev1.Volume{Name: volumeAWS, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: SecretName(awsPipeline),
			Items:      []corev1.KeyToPath{{Key: agent.AWSCredentialsKey, Path: path.Base(render.AWSCredentialsFile)}}}}})
	}
	return vols
}

// container is the sidecar itself, without the mounts of the shared log directories.
func container(ps []Pipeline, opts Options, user *int64) corev1.Container {
	env := []corev1.EnvVar{
		{Name: render.SidecarEnvPodNamespace, ValueFrom: fieldRef("metadata.namespace")},
		{Name: render.SidecarEnvPodName, ValueFrom: fieldRef("metadata.name")},
		{Name: render.SidecarEnvNodeName, ValueFrom: fieldRef("spec.nodeName")},
	}
	mounts := []corev1.VolumeMount{
		{Name: volumeConfig, MountPath: configDir, ReadOnly: true},
		{Name: volumeData, MountPath: render.SidecarDataDir},
	}
	seen := map[string]bool{}
	secrets := false
	for _, p := range ps {
		// Variable names are derived from the Secret key they carry, so a name two
		// pipelines share holds the same value.
		for _, e := range p.Manifest.Env {
			if !seen[e] {
				seen[e] = true
				env = append(env, corev1.EnvVar{Name: e, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: SecretName(p.Name)}, Key: e}}})
			}
		}
		secrets = secrets || len(p.Manifest.SecretFiles) > 0
		if p.Manifest.AWS {
			env = append(env, corev1.EnvVar{Name: "AWS_SHARED_CREDENTIALS_FILE", Value: render.AWSCredentialsFile})
			mounts = append(mounts, corev1.VolumeMount{Name: volumeAWS, MountPath: path.Dir(render.AWSCredentialsFile), ReadOnly: true})
		}
	}
	if secrets {
		mounts = append(mounts, corev1.VolumeMount{Name: volumeSecrets, MountPath: render.SecretFilesDir, ReadOnly: true})
	}
	image := opts.Image
	if image == "" {
		image = fluentbit.Image
	}
	no, yes := false, true
	return corev1.Container{
		Name:      ContainerName,
		Image:     image,
		Args:      Args(),
		Env:       env,
		Ports:     []corev1.ContainerPort{{Name: metricsPortName, ContainerPort: render.SidecarMetricsPort, Protocol: corev1.ProtocolTCP}},
		Resources: resources(len(ps)),
		// Meets the restricted Pod Security Standard, so that injection never makes
		// a pod inadmissible. The shared emptyDirs are world-writable and the app's
		// files world-readable by default, so any non-root user will do.
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             &yes,
			RunAsUser:                user,
			ReadOnlyRootFilesystem:   &yes,
			AllowPrivilegeEscalation: &no,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		VolumeMounts: mounts,
	}
}

// Args run Fluent Bit under its own supervisor: a native sidecar that exits before the
// kubelet has seen it running holds back every container after it (the kubelet starts
// them only once the sidecar runs), so a configuration Fluent Bit refuses, or a node
// it cannot start on, would keep the app from starting. The supervisor keeps running
// and restarts Fluent Bit (measured: every 3 s), so the app starts and the sidecar's
// missing metrics tell the operator; it forwards SIGTERM for a clean stop. There is no
// readiness probe, so a failing sidecar never takes the pod out of its Services.
func Args() []string {
	return []string{"--supervisor", "-c", path.Join(configDir, render.MainFile)}
}

// nobody runs the sidecar unless the pod names a non-root user for all its
// containers (as OpenShift's restricted SCC does), which it then inherits: the Fluent
// Bit image's own user is root, which runAsNonRoot would refuse to start.
const nobody = 65534

func podUser(pod *corev1.Pod) *int64 {
	if sc := pod.Spec.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser != 0 {
		return nil
	}
	u := int64(nobody)
	return &u
}

func fieldRef(p string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
}

// resources: each pipeline's tail input may hold up to its 32MB buffer in memory;
// the limit leaves that much per pipeline above Fluent Bit's own footprint.
func resources(pipelines int) corev1.ResourceRequirements {
	limit := resource.MustParse("64Mi")
	per := resource.MustParse("64Mi")
	for range pipelines {
		limit.Add(per)
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: limit},
	}
}
