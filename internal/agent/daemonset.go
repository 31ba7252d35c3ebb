package agent

import (
	"fmt"
	"path"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/reloader"
	"github.com/logplane/logplane/internal/render"
)

func ptr[T any](v T) *T { return &v }

// daemonSet runs Fluent Bit on every node the agent may use.
func daemonSet(in Input, name string, labels map[string]string, o *Objects) *appsv1.DaemonSet {
	maxUnavailable := in.Spec.MaxUnavailable
	if maxUnavailable == nil {
		maxUnavailable = ptr(intstr.FromString("10%"))
	}
	ds := &appsv1.DaemonSet{
		TypeMeta:   typeMeta("apps/v1", "DaemonSet"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in.Namespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selectorOf(labels)},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: maxUnavailable},
			},
			Template: podTemplate(in, name, labels, o, true),
		},
	}
	if in.Spec.ConfigReload == v1.ConfigReloadHotReload {
		addReloader(&ds.Spec.Template.Spec, operatorImage(in), metricsPort(in.Spec), path.Join(hostPath(in.Spec), in.Name, "reloader"))
	}
	return ds
}

func selectorOf(labels map[string]string) map[string]string {
	return map[string]string{LabelAgent: labels[LabelAgent], LabelComponent: labels[LabelComponent]}
}

// podTemplate is Fluent Bit's pod. On nodes (the DaemonSet) it reads the node's logs
// and keeps positions and buffers on the node; elsewhere (the events collector) it
// keeps its state in the pod.
func podTemplate(in Input, name string, labels map[string]string, o *Objects, onNode bool) corev1.PodTemplateSpec {
	spec := in.Spec

	// Restart mode rolls the pods whenever configuration or credentials change.
	// HotReload mode rolls them only for credentials (environment variables are read
	// at start); the reloader applies configuration changes in place.
	hash := credentialsHash(o.CredentialsSecrets)
	if spec.ConfigReload != v1.ConfigReloadHotReload {
		hash = in.Config.Hash + "-" + hash
	}

	var configSources []corev1.VolumeProjection
	for _, s := range o.ConfigSecrets {
		configSources = append(configSources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.Name}}})
	}
	data := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	if onNode {
		// Tail positions and the filesystem buffer survive restarts on the node, one
		// directory per agent so that two agents never share a positions database.
		data = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: path.Join(hostPath(spec), in.Name), Type: ptr(corev1.HostPathDirectoryOrCreate)}}
	}
	volumes := []corev1.Volume{
		{Name: "data", VolumeSource: data},
		{Name: "config", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: configSources}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "data", MountPath: render.AgentDataDir},
		{Name: "config", MountPath: configDir, ReadOnly: true},
	}
	volumes, mounts = append(volumes, fbexecVolume), append(mounts, corev1.VolumeMount{Name: fbexecVolume.Name, MountPath: FBExecDir, ReadOnly: true})
	if onNode {
		volumes = append([]corev1.Volume{{Name: "varlog", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}}}, volumes...)
		mounts = append([]corev1.VolumeMount{{Name: "varlog", MountPath: "/var/log", ReadOnly: true}}, mounts...)
		if in.Config.ReadsJournal {
			// Fluent Bit refuses to start when the journal directory is missing, as it
			// is on nodes whose journald keeps logs in memory only. Creating it makes
			// journald (Storage=auto) keep the journal there from its next start,
			// which is also what lets the agent read it.
			volumes = append(volumes, corev1.Volume{Name: "journal", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: render.JournalPath, Type: ptr(corev1.HostPathDirectoryOrCreate)}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "journal", MountPath: render.JournalPath, ReadOnly: true})
		}
	}
	holder := credentialsHolder(o.CredentialsSecrets)
	var env []corev1.EnvVar
	for _, e := range in.Config.Env {
		env = append(env, corev1.EnvVar{Name: e.Name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: holder[e.Name]}, Key: e.Name}}})
	}
	if len(in.Config.SecretFiles) > 0 {
		volumes = append(volumes, secretFilesVolume(in.Config.SecretFiles, o.CredentialsSecrets, holder))
		mounts = append(mounts, corev1.VolumeMount{Name: "secret-files", MountPath: render.SecretFilesDir, ReadOnly: true})
	}
	if len(in.Config.AWSProfiles) > 0 {
		volumes = append(volumes, corev1.Volume{Name: "aws", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: holder[AWSCredentialsKey], Items: []corev1.KeyToPath{{Key: AWSCredentialsKey, Path: path.Base(render.AWSCredentialsFile)}}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "aws", MountPath: path.Dir(render.AWSCredentialsFile), ReadOnly: true})
		env = append(env, corev1.EnvVar{Name: "AWS_SHARED_CREDENTIALS_FILE", Value: render.AWSCredentialsFile})
	}

	port := metricsPort(spec)
	probe := func(failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/api/v1/health", Port: intstr.FromString("metrics")}},
			PeriodSeconds:    10,
			FailureThreshold: failures,
		}
	}
	resources := defaultResources
	if spec.Resources != nil {
		resources = *spec.Resources
	}
	tolerations := spec.Tolerations
	if tolerations == nil && onNode {
		// Logs of every node matter, tainted ones included.
		tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	}
	pullPolicy := spec.ImagePullPolicy
	if pullPolicy == "" {
		pullPolicy = corev1.PullIfNotPresent
	}

	securityContext := &corev1.SecurityContext{
		RunAsUser:                ptr(int64(0)),
		ReadOnlyRootFilesystem:   ptr(true),
		AllowPrivilegeEscalation: ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"DAC_READ_SEARCH"}},
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{AnnotationConfig: hash}},
		Spec: corev1.PodSpec{
			ServiceAccountName:            name,
			PriorityClassName:             spec.PriorityClassName,
			NodeSelector:                  spec.NodeSelector,
			Tolerations:                   tolerations,
			ImagePullSecrets:              spec.ImagePullSecrets,
			TerminationGracePeriodSeconds: ptr(int64(30)),
			SecurityContext:               &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			InitContainers:                []corev1.Container{fbexecInstaller(operatorImage(in), securityContext)},
			Containers: []corev1.Container{{
				Name:            render.AgentContainerName,
				Image:           image(spec),
				ImagePullPolicy: pullPolicy,
				// Through fbexec, which raises the soft open-files limit to the hard
				// one and becomes Fluent Bit (see FBExecDir).
				Command:        []string{FBExecBinary, "--", FluentBitBinary},
				Args:           []string{"-c", path.Join(configDir, render.MainFile)},
				Env:            env,
				Ports:          []corev1.ContainerPort{{Name: "metrics", ContainerPort: port, Protocol: corev1.ProtocolTCP}},
				Resources:      resources,
				LivenessProbe:  probe(6),
				ReadinessProbe: probe(3),
				VolumeMounts:   mounts,
				// Fluent Bit writes no termination message; its last log lines are the
				// reason it stopped (a plugin that failed to initialise on this node),
				// which the operator reads from the pod's status to report and roll
				// back without reading logs.
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				// Root, because container logs and the node's positions directory
				// belong to root; nothing else: no capabilities, no escalation,
				// nothing writable outside the mounted directories.
				SecurityContext: securityContext,
			}},
			Volumes: volumes,
		},
	}
}

// Paths of the agent container's start: Fluent Bit 5.1.1 never raises its soft
// RLIMIT_NOFILE, and containerd 2.x gives containers 1024 soft / 524288 hard, fewer
// than the budgets' maxima need. Fluent Bit's image is distroless (no shell for
// ulimit), so an init container copies fbexec (cmd/fbexec, 1.7 MB) from the operator
// image into an emptyDir, and the agent container runs Fluent Bit through it.
const (
	// FBExecDir holds fbexec in the pod.
	FBExecDir = "/logplane/fbexec"
	// FBExecBinary is fbexec in the agent container.
	FBExecBinary = FBExecDir + "/fbexec"
	// OperatorFBExec is fbexec in the operator image.
	OperatorFBExec = "/fbexec"
	// FluentBitBinary is Fluent Bit in its image (the image's entry point): a
	// LogAgent's spec.image must keep it there.
	FluentBitBinary = "/fluent-bit/bin/fluent-bit"
)

var fbexecVolume = corev1.Volume{Name: "fbexec", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
	SizeLimit: ptr(resource.MustParse("16Mi"))}}}

// fbexecInstaller is the init container that copies fbexec into the pod: as the
// operator image's non-root user (emptyDirs are writable by any), with nothing else.
func fbexecInstaller(operatorImage string, agent *corev1.SecurityContext) corev1.Container {
	sc := agent.DeepCopy()
	sc.Capabilities.Add = nil
	sc.RunAsUser, sc.RunAsNonRoot = ptr(int64(65532)), ptr(true)
	return corev1.Container{
		Name:    "install-fbexec",
		Image:   operatorImage,
		Command: []string{OperatorFBExec, "install", FBExecBinary},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
		},
		VolumeMounts:             []corev1.VolumeMount{{Name: fbexecVolume.Name, MountPath: FBExecDir}},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          sc,
	}
}

// Names the operator reads agent pods by in HotReload mode.
const (
	// ReloaderContainer is the reloader's container.
	ReloaderContainer = "reloader"
	// ReloaderPortName is the port of the reloader's status endpoint.
	ReloaderPortName = "reloader"
	// runDir is the reloader's emptyDir; Fluent Bit reads the copy in its etc/.
	runDir = "/fluent-bit/run"
	// reloaderStateDir is the reloader's directory on the node.
	reloaderStateDir = "/var/lib/logplane-reloader"
)

// addReloader runs `logplane reloader` beside Fluent Bit. Fluent Bit reads its
// configuration from a copy the reloader owns, not from the Secret: when Fluent Bit
// refuses a new configuration, the reloader puts the previous files back and Fluent
// Bit runs them again, where a restart would read the same refused files from the
// Secret. The reloader is a native sidecar (Kubernetes 1.29+; the operator needs
// 1.32): the kubelet starts Fluent Bit only once the reloader's startup probe says
// the copy is staged, and the one process that stages it keeps the refused version
// across Fluent Bit's restarts, which an init container plus a sidecar would have to
// hand over. It shares the pod's process namespace to see Fluent Bit's process, and
// its readiness fails while it holds a refused version back, so the operator reads
// its status (ReloaderPortName) and reports it.
func addReloader(pod *corev1.PodSpec, image string, port int32, statePath string) {
	pod.ShareProcessNamespace = ptr(true)
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "run", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		// A refusal outlives the pod on its node: a new pod there must not start
		// Fluent Bit on the refused files (see reloader.Options.StateDir).
		corev1.Volume{Name: "reloader-state", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: statePath, Type: ptr(corev1.HostPathDirectoryOrCreate)}}})
	fb := &pod.Containers[0]
	main := path.Join(reloader.ConfigDir(runDir), render.MainFile)
	fb.Args = []string{"-c", main}
	for i, m := range fb.VolumeMounts {
		if m.Name == "config" {
			fb.VolumeMounts[i] = corev1.VolumeMount{Name: "run", MountPath: runDir, ReadOnly: true}
		}
	}
	statusPort := reloaderPort(port)
	get := func(p string) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: p, Port: intstr.FromString(ReloaderPortName)}}
	}
	sc := fb.SecurityContext.DeepCopy()
	// Same user as Fluent Bit, which is what signalling it takes; nothing more.
	sc.Capabilities.Add = nil
	pod.InitContainers = append(pod.InitContainers, corev1.Container{
		Name:          ReloaderContainer,
		Image:         image,
		RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways),
		Args: []string{"reloader", "--config-dir=" + configDir, "--run-dir=" + runDir,
			fmt.Sprintf("--fluent-bit-url=http://127.0.0.1:%d", port), "--main-file=" + render.MainFile,
			fmt.Sprintf("--status-address=:%d", statusPort), "--process=fluent-bit", "--state-dir=" + reloaderStateDir},
		Ports: []corev1.ContainerPort{{Name: ReloaderPortName, ContainerPort: statusPort, Protocol: corev1.ProtocolTCP}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		StartupProbe:   &corev1.Probe{ProbeHandler: get(reloader.StatusPath), PeriodSeconds: 1, FailureThreshold: 120},
		ReadinessProbe: &corev1.Probe{ProbeHandler: get(reloader.ReadyPath), PeriodSeconds: 5, FailureThreshold: 1},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "config", MountPath: configDir, ReadOnly: true},
			{Name: "run", MountPath: runDir},
			{Name: "reloader-state", MountPath: reloaderStateDir},
		},
		SecurityContext: sc,
	})
}

// reloaderPort is beside Fluent Bit's port, and never the same.
func reloaderPort(metrics int32) int32 {
	if metrics == 2021 {
		return 2022
	}
	return 2021
}

func hostPath(spec v1.LogAgentSpec) string {
	if spec.HostPath == "" {
		return "/var/lib/logplane"
	}
	return spec.HostPath
}

// secretFilesVolume mounts the secret files: from the one Secret that holds them, or
// projected from the several that do.
func secretFilesVolume(files []render.SecretFile, secrets []*corev1.Secret, holder map[string]string) corev1.Volume {
	items := map[string][]corev1.KeyToPath{}
	for _, f := range files {
		key := FileKey(f.Path)
		items[holder[key]] = append(items[holder[key]], corev1.KeyToPath{Key: key, Path: key})
	}
	if len(items) == 1 {
		for name, its := range items {
			return corev1.Volume{Name: "secret-files", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: name, Items: its}}}
		}
	}
	var sources []corev1.VolumeProjection
	for _, s := range secrets { // in Secret order, not map order
		if its := items[s.Name]; len(its) > 0 {
			sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: s.Name}, Items: its}})
		}
	}
	return corev1.Volume{Name: "secret-files", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}}
}
