// Package kubernetes_test validates the manifests of this folder without
// a cluster: every document parses, has what Kubernetes requires and
// the security settings the deployment promises, references only
// secrets the kustomization generates, and probes iamd where iamd
// answers.
package kubernetes_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/gpucloud/iam/internal/api/apitest"
)

// kustomization is the part of kustomization.yaml the test reads.
type kustomization struct {
	Namespace string   `yaml:"namespace"`
	Resources []string `yaml:"resources"`

	SecretGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"secretGenerator"`

	Images []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	} `yaml:"images"`
}

// object is the part of any manifest the test reads. Workloads keep
// their pod template in Spec.Template; Services their ports and
// selector in Spec.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Selector  yaml.Node   `yaml:"selector"`
		ClusterIP string      `yaml:"clusterIP"`
		Ports     []svcPort   `yaml:"ports"`
		Template  podTemplate `yaml:"template"`
	} `yaml:"spec"`

	file string
}

type svcPort struct {
	Name       string    `yaml:"name"`
	Port       int       `yaml:"port"`
	TargetPort yaml.Node `yaml:"targetPort"`
}

type podTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec podSpec `yaml:"spec"`
}

type podSpec struct {
	RestartPolicy                string      `yaml:"restartPolicy"`
	AutomountServiceAccountToken *bool       `yaml:"automountServiceAccountToken"`
	SecurityContext              podSecurity `yaml:"securityContext"`
	Containers                   []container `yaml:"containers"`
	Volumes                      []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

type podSecurity struct {
	RunAsNonRoot   *bool  `yaml:"runAsNonRoot"`
	RunAsUser      *int64 `yaml:"runAsUser"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
	GRPC *struct {
		Port    int    `yaml:"port"`
		Service string `yaml:"service"`
	} `yaml:"grpc"`
}

// manifests is everything the kustomization deploys.
type manifests struct {
	kustomization kustomization

	// secrets maps each generated Secret to its keys.
	secrets map[string][]string

	objects []object
}

// load reads kustomization.yaml and every resource it lists.
func load(t *testing.T) manifests {
	t.Helper()

	raw, err := os.ReadFile("kustomization.yaml")
	require.NoError(t, err)

	var m manifests
	require.NoError(t, yaml.Unmarshal(raw, &m.kustomization))
	require.NotEmpty(t, m.kustomization.Resources)

	m.secrets = map[string][]string{}
	for _, gen := range m.kustomization.SecretGenerator {
		for _, file := range gen.Files {
			key, _, _ := strings.Cut(file, "=")
			m.secrets[gen.Name] = append(m.secrets[gen.Name], key)
		}
	}

	for _, name := range m.kustomization.Resources {
		m.objects = append(m.objects, parseFile(t, name)...)
	}

	return m
}

// parseFile decodes every YAML document of a file.
func parseFile(t *testing.T, name string) []object {
	t.Helper()

	raw, err := os.ReadFile(name)
	require.NoError(t, err)

	var out []object
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for i := 0; ; i++ {
		var obj object
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}

		require.NoError(t, err, "%s, document %d", name, i)

		obj.file = name
		out = append(out, obj)
	}

	require.NotEmpty(t, out, "%s holds no document", name)

	return out
}

// find returns the object of kind and name.
func (m manifests) find(t *testing.T, kind, name string) object {
	t.Helper()

	for _, obj := range m.objects {
		if obj.Kind == kind && obj.Metadata.Name == name {
			return obj
		}
	}

	t.Fatalf("no %s named %s", kind, name)

	return object{}
}

// workloads returns the objects that run pods.
func (m manifests) workloads() []object {
	var out []object
	for _, obj := range m.objects {
		if obj.Kind == "Deployment" || obj.Kind == "Job" {
			out = append(out, obj)
		}
	}

	return out
}

func TestEveryFileIsDeployed(t *testing.T) {
	m := load(t)

	files, err := filepath.Glob("*.yaml")
	require.NoError(t, err)

	for _, f := range files {
		if f == "kustomization.yaml" {
			continue
		}

		require.Contains(t, m.kustomization.Resources, f,
			"%s is not in kustomization.yaml's resources", f)
	}
}

func TestRequiredFields(t *testing.T) {
	m := load(t)

	seen := map[string]bool{}
	for _, obj := range m.objects {
		id := obj.Kind + "/" + obj.Metadata.Name
		t.Run(id, func(t *testing.T) {
			require.NotEmpty(t, obj.APIVersion, obj.file)
			require.NotEmpty(t, obj.Kind, obj.file)
			require.NotEmpty(t, obj.Metadata.Name, obj.file)
			require.False(t, seen[id], "%s is defined twice", id)
			seen[id] = true

			// The kustomization sets the namespace of everything.
			require.Empty(t, obj.Metadata.Namespace,
				"%s sets its own namespace", id)
		})
	}

	ns := m.find(t, "Namespace", m.kustomization.Namespace)
	require.Equal(t, "restricted",
		ns.Metadata.Labels["pod-security.kubernetes.io/enforce"])
}

func TestPodSecurity(t *testing.T) {
	m := load(t)

	for _, w := range m.workloads() {
		t.Run(w.Kind+"/"+w.Metadata.Name, func(t *testing.T) {
			pod := w.Spec.Template.Spec
			sc := pod.SecurityContext

			require.NotNil(t, pod.AutomountServiceAccountToken)
			require.False(t, *pod.AutomountServiceAccountToken,
				"no pod here talks to the Kubernetes API")
			require.NotNil(t, sc.RunAsNonRoot)
			require.True(t, *sc.RunAsNonRoot)
			require.NotNil(t, sc.RunAsUser)
			require.NotZero(t, *sc.RunAsUser)
			require.Equal(t, "RuntimeDefault", sc.SeccompProfile.Type)
			require.NotEmpty(t, pod.Containers)

			for _, c := range pod.Containers {
				csc := c.SecurityContext
				require.NotNil(t, csc.ReadOnlyRootFilesystem, c.Name)
				require.True(t, *csc.ReadOnlyRootFilesystem, c.Name)
				require.NotNil(t, csc.AllowPrivilegeEscalation, c.Name)
				require.False(t, *csc.AllowPrivilegeEscalation, c.Name)
				require.Equal(t, []string{"ALL"}, csc.Capabilities.Drop,
					c.Name)

				for _, res := range []string{"cpu", "memory"} {
					require.NotEmpty(t, c.Resources.Requests[res],
						"%s: no %s request", c.Name, res)
					require.NotEmpty(t, c.Resources.Limits[res],
						"%s: no %s limit", c.Name, res)
				}
			}
		})
	}
}

func TestImagesAreMapped(t *testing.T) {
	m := load(t)

	var names []string
	for _, img := range m.kustomization.Images {
		require.NotEmpty(t, img.NewName, img.Name)
		require.NotEmpty(t, img.NewTag, img.Name)
		names = append(names, img.Name)
	}

	for _, w := range m.workloads() {
		for _, c := range w.Spec.Template.Spec.Containers {
			require.Contains(t, names, c.Image,
				"%s/%s: image %q is not in the kustomization's images",
				w.Metadata.Name, c.Name, c.Image)
		}
	}
}

func TestSecretsExist(t *testing.T) {
	m := load(t)

	for _, gen := range m.kustomization.SecretGenerator {
		for _, file := range gen.Files {
			_, path, ok := strings.Cut(file, "=")
			require.True(t, ok, "%s: write files as key=path", gen.Name)
			require.True(t, strings.HasPrefix(path, "secrets/"),
				"%s: %s is outside secrets/, which git ignores",
				gen.Name, path)
		}
	}

	ignore, err := os.ReadFile("secrets/.gitignore")
	require.NoError(t, err)
	require.Contains(t, string(ignore), "*\n")

	for _, w := range m.workloads() {
		pod := w.Spec.Template.Spec

		for _, c := range pod.Containers {
			for _, env := range c.Env {
				if env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil {
					continue
				}

				ref := env.ValueFrom.SecretKeyRef
				require.Contains(t, m.secrets[ref.Name], ref.Key,
					"%s/%s: env %s names secret %s key %s, "+
						"which the kustomization does not generate",
					w.Metadata.Name, c.Name, env.Name, ref.Name, ref.Key)
			}
		}

		for _, v := range pod.Volumes {
			if v.Secret == nil {
				continue
			}

			keys, ok := m.secrets[v.Secret.SecretName]
			require.True(t, ok, "%s: volume %s names secret %s, "+
				"which the kustomization does not generate",
				w.Metadata.Name, v.Name, v.Secret.SecretName)

			for _, item := range v.Secret.Items {
				require.Contains(t, keys, item.Key, "%s: volume %s",
					w.Metadata.Name, v.Name)
			}
		}
	}
}

func TestServicesReachTheirPods(t *testing.T) {
	m := load(t)

	for _, svc := range m.objects {
		if svc.Kind != "Service" {
			continue
		}

		t.Run(svc.Metadata.Name, func(t *testing.T) {
			var selector map[string]string
			require.NoError(t, svc.Spec.Selector.Decode(&selector))
			require.NotEmpty(t, selector)

			var pods []podTemplate
			for _, w := range m.workloads() {
				labels := w.Spec.Template.Metadata.Labels
				if w.Kind == "Deployment" && matches(selector, labels) {
					pods = append(pods, w.Spec.Template)
				}
			}

			require.NotEmpty(t, pods, "no Deployment's pods match %v",
				selector)

			for _, port := range svc.Spec.Ports {
				for _, pod := range pods {
					_, ok := containerPort(pod.Spec, port.TargetPort)
					require.True(t, ok, "port %s: target %s is no "+
						"container port", port.Name, port.TargetPort.Value)
				}
			}
		})
	}

	for _, d := range m.workloads() {
		if d.Kind != "Deployment" {
			continue
		}

		var sel struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		}
		require.NoError(t, d.Spec.Selector.Decode(&sel))
		require.True(t, matches(sel.MatchLabels,
			d.Spec.Template.Metadata.Labels),
			"%s: the selector does not match its own pods",
			d.Metadata.Name)
	}
}

// TestIAMDProbes checks that iamd's probes ask the paths iamd serves, on
// the port it listens on.
func TestIAMDProbes(t *testing.T) {
	m := load(t)
	pod := m.find(t, "Deployment", "iamd").Spec.Template.Spec
	iamd := pod.Containers[0]

	require.NotNil(t, iamd.LivenessProbe)
	require.NotNil(t, iamd.ReadinessProbe)
	require.NotNil(t, iamd.LivenessProbe.HTTPGet)
	require.NotNil(t, iamd.ReadinessProbe.HTTPGet)

	live := iamd.LivenessProbe.HTTPGet
	ready := iamd.ReadinessProbe.HTTPGet
	require.Equal(t, "/healthz", live.Path)
	require.Equal(t, "/readyz", ready.Path)

	// The probes' port is the port iamd listens on.
	addr := envValue(iamd, "IAMD_ADDR")
	_, listen, ok := strings.Cut(addr, ":")
	require.True(t, ok, "IAMD_ADDR %q has no port", addr)

	for _, p := range []*probe{iamd.LivenessProbe, iamd.ReadinessProbe} {
		port, ok := containerPort(pod, p.HTTPGet.Port)
		require.True(t, ok, "probe port %s", p.HTTPGet.Port.Value)
		require.Equal(t, listen, strconv.Itoa(port))
	}

	// The paths answer 200 on iamd's own handler.
	srv := apitest.NewServer(t)
	for _, path := range []string{live.Path, ready.Path} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}

	// The secret files iamd is told about are where the volume puts
	// them.
	mounts := map[string]string{}
	for _, vm := range iamd.VolumeMounts {
		mounts[vm.Name] = vm.MountPath
	}

	var files []string
	for _, v := range pod.Volumes {
		if v.Secret == nil {
			continue
		}

		for _, item := range v.Secret.Items {
			files = append(files, mounts[v.Name]+"/"+item.Path)
		}
	}

	for _, flag := range []string{"--operator-token-file=",
		"--token-signing-key-file="} {
		path := argValue(t, iamd, flag)
		require.Contains(t, files, path, "%s names no mounted file", flag)
	}
}

// TestSpiceDBCluster checks the wiring of the SpiceDB nodes: dispatch
// through the headless Service, probes on the API port.
func TestSpiceDBCluster(t *testing.T) {
	m := load(t)
	node := m.find(t, "Deployment", "spicedb").Spec.Template.Spec.Containers[0]

	headless := m.find(t, "Service", "spicedb-dispatch")
	require.Equal(t, "None", headless.Spec.ClusterIP)
	require.Len(t, headless.Spec.Ports, 1)

	upstream := argValue(t, node, "--dispatch-upstream-addr=")
	want := "dns:///" + headless.Metadata.Name + ":" +
		strconv.Itoa(headless.Spec.Ports[0].Port)
	require.Equal(t, want, upstream)
	require.Contains(t, node.Args, "--dispatch-cluster-enabled")

	grpcAddr := argValue(t, node, "--grpc-addr=")
	for _, p := range []*probe{node.LivenessProbe, node.ReadinessProbe} {
		require.NotNil(t, p)
		require.NotNil(t, p.GRPC)
		require.Equal(t, grpcAddr, ":"+strconv.Itoa(p.GRPC.Port))
	}

	require.Equal(t, "authzed.api.v1.PermissionsService",
		node.ReadinessProbe.GRPC.Service)

	// iamd reaches SpiceDB through the API Service.
	api := m.find(t, "Service", "spicedb")
	iamd := m.find(t, "Deployment", "iamd").Spec.Template.Spec.Containers[0]
	require.Equal(t,
		api.Metadata.Name+":"+strconv.Itoa(api.Spec.Ports[0].Port),
		argValue(t, iamd, "--spicedb-endpoint="))

	migrate := m.find(t, "Job", "spicedb-migrate").Spec.Template.Spec
	require.Contains(t, []string{"OnFailure", "Never"}, migrate.RestartPolicy)
	require.Equal(t, []string{"datastore", "migrate", "head"},
		migrate.Containers[0].Args[:3])
}

// matches tells whether labels hold every pair of selector.
func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}

	return len(selector) > 0
}

// containerPort resolves a port given by name or number against the
// pod's containers.
func containerPort(pod podSpec, port yaml.Node) (int, bool) {
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if p.Name == port.Value || strconv.Itoa(p.ContainerPort) == port.Value {
				return p.ContainerPort, true
			}
		}
	}

	return 0, false
}

// envValue is the literal value of a container's variable.
func envValue(c container, name string) string {
	for _, env := range c.Env {
		if env.Name == name {
			return env.Value
		}
	}

	return ""
}

// argValue is the value of the container's argument prefix...; it
// fails the test unless exactly one argument has the prefix.
func argValue(t *testing.T, c container, prefix string) string {
	t.Helper()

	var values []string
	for _, arg := range c.Args {
		if v, ok := strings.CutPrefix(arg, prefix); ok {
			values = append(values, v)
		}
	}

	require.Len(t, values, 1, "%s: want one %s argument", c.Name, prefix)

	return values[0]
}

// TestImageUser checks that the pods run as the user deploy/Dockerfile
// sets, which owns nothing in the image but can read its secrets.
func TestImageUser(t *testing.T) {
	m := load(t)

	raw, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)

	dockerfile := string(raw)
	require.Contains(t, dockerfile, "\nUSER 65532:65532\n")
	require.Contains(t, dockerfile, "\nENV IAMD_ADDR=:8080\n")

	pod := m.find(t, "Deployment", "iamd").Spec.Template.Spec
	require.EqualValues(t, 65532, *pod.SecurityContext.RunAsUser)
	require.Equal(t, ":8080", envValue(pod.Containers[0], "IAMD_ADDR"))
}
