package agent

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/logplane/logplane/internal/render"
)

// manyCredentials is a configuration of n tenants, each with a token (an environment
// variable) and a client certificate (a 4 KiB file): 2.5 MB of secret values at 600.
func manyCredentials(n int) Input {
	var cfg render.Config
	values := map[render.SecretSource][]byte{}
	for i := range n {
		ns := fmt.Sprintf("team-%03d", i)
		token := render.SecretSource{Namespace: ns, Name: "token", Key: "token"}
		cert := render.SecretSource{Namespace: ns, Name: "client", Key: "tls.crt"}
		cfg.Env = append(cfg.Env, render.EnvVar{Name: fmt.Sprintf("LP_TOKEN%03d", i), Source: token})
		cfg.SecretFiles = append(cfg.SecretFiles, render.SecretFile{Path: fmt.Sprintf("%s/cert%03d", render.SecretFilesDir, i), Source: cert})
		values[token] = bytes.Repeat([]byte{'t'}, 64)
		values[cert] = bytes.Repeat([]byte{byte('a' + i%26)}, 4096)
	}
	return Input{Name: "big", Namespace: "ops", Config: cfg, SecretValues: values}
}

// Secret values that do not fit in one Secret are spread over several, each under the
// limit, and the pods find every value in the Secret that holds it.
func TestLargeCredentialsAreSplitAcrossSecrets(t *testing.T) {
	in := manyCredentials(600)
	o := Build(in)
	if len(o.CredentialsSecrets) < 2 {
		t.Fatalf("%d credentials Secret(s) for 2.5 MB", len(o.CredentialsSecrets))
	}
	holder := map[string]string{}
	for i, s := range o.CredentialsSecrets {
		if want := CredentialsSecretName("logplane-agent-big", i); s.Name != want {
			t.Errorf("Secret %d is %s, want %s", i, s.Name, want)
		}
		size := 0
		for k, v := range s.Data {
			size += len(k) + len(v)
			if holder[k] != "" {
				t.Errorf("%s is in %s and %s", k, holder[k], s.Name)
			}
			holder[k] = s.Name
		}
		if size > maxCredentialsBytes {
			t.Errorf("%s holds %d bytes, over %d", s.Name, size, maxCredentialsBytes)
		}
	}
	pod := o.DaemonSet.Spec.Template.Spec
	for _, e := range pod.Containers[0].Env {
		ref := e.ValueFrom.SecretKeyRef
		if holder[ref.Key] == "" || ref.Name != holder[ref.Key] {
			t.Errorf("env %s reads %s from %s; it is in %q", e.Name, ref.Key, ref.Name, holder[ref.Key])
		}
	}
	var mounted []string
	for _, v := range pod.Volumes {
		if v.Name != "secret-files" {
			continue
		}
		for _, src := range v.Projected.Sources {
			for _, item := range src.Secret.Items {
				if holder[item.Key] != src.Secret.Name {
					t.Errorf("file %s projected from %s; it is in %q", item.Key, src.Secret.Name, holder[item.Key])
				}
				mounted = append(mounted, item.Path)
			}
		}
	}
	var want []string
	for _, f := range in.Config.SecretFiles {
		want = append(want, FileKey(f.Path))
	}
	slices.Sort(mounted)
	if !slices.Equal(mounted, want) {
		t.Errorf("%d files mounted, want %d", len(mounted), len(want))
	}
}

// A rotated value rewrites the one Secret that holds it, and rolls the pods.
func TestOneRotatedValueChangesOneCredentialsSecret(t *testing.T) {
	in := manyCredentials(600)
	before := Build(in)
	in.SecretValues[in.Config.SecretFiles[123].Source] = []byte("rotated")
	after := Build(in)
	var changed []string
	for i, b := range before.CredentialsSecrets {
		if !reflect.DeepEqual(b.Data, after.CredentialsSecrets[i].Data) {
			changed = append(changed, b.Name)
		}
	}
	if len(changed) != 1 {
		t.Errorf("changed Secrets %v, want one", changed)
	}
	hash := func(o *Objects) string { return o.DaemonSet.Spec.Template.Annotations[AnnotationConfig] }
	if hash(before) == hash(after) {
		t.Error("a rotated value left the pod template as it was")
	}
}

// Values that fit stay in the one Secret they always were in, mounted as before.
func TestSmallCredentialsStayInOneSecret(t *testing.T) {
	o := Build(manyCredentials(10))
	if len(o.CredentialsSecrets) != 1 || o.CredentialsSecrets[0].Name != "logplane-agent-big-credentials" {
		t.Fatalf("credentials Secrets %v", o.CredentialsSecrets)
	}
	for _, v := range o.DaemonSet.Spec.Template.Spec.Volumes {
		if v.Name == "secret-files" && (v.Secret == nil || v.Secret.SecretName != "logplane-agent-big-credentials") {
			t.Errorf("secret files volume %+v", v.VolumeSource)
		}
	}
}

// Issue 19: a tenant's Secret value with a line break would add a [default] profile to
// the credentials file every output of the agent shares, which Fluent Bit's credential
// chain tries before the node's identity. The value is refused, reported, and the
// tenant's profile keeps keys AWS refuses, so that it cannot fall through to the
// agent's identity either.
func TestCredentialsDataRefusesValuesThatAddProfiles(t *testing.T) {
	id := render.SecretSource{Namespace: "tenant", Name: "aws", Key: "id"}
	secret := render.SecretSource{Namespace: "tenant", Name: "aws", Key: "secret"}
	platformID := render.SecretSource{Namespace: "logplane-system", Name: "aws", Key: "id"}
	platformSecret := render.SecretSource{Namespace: "logplane-system", Name: "aws", Key: "secret"}
	cfg := render.Config{AWSProfiles: []render.AWSProfile{
		{Name: "lp-platform", AccessKeyID: platformID, SecretAccessKey: platformSecret},
		{Name: "lp-tenant", AccessKeyID: id, SecretAccessKey: secret},
	}}
	values := map[render.SecretSource][]byte{
		id:             []byte("AKIAIOSFODNN7EXAMPLE\n[default]\naws_access_key_id = X"),
		secret:         []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"), // echo's newline is trimmed
		platformID:     []byte("AKIAI44QH8DHBEXAMPLE"),
		platformSecret: []byte("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
	}
	c := CredentialsData(cfg, values)
	file := string(c.Data[AWSCredentialsKey])
	want := "[lp-platform]\naws_access_key_id = AKIAI44QH8DHBEXAMPLE\naws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n\n" +
		"[lp-tenant]\naws_access_key_id = " + refusedKey + "\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n"
	if file != want {
		t.Errorf("credentials file:\n%s\nwant:\n%s", file, want)
	}
	for _, line := range strings.Split(file, "\n") {
		if strings.HasPrefix(line, "[") && line != "[lp-platform]" && line != "[lp-tenant]" {
			t.Errorf("the file has a profile of the tenant's making: %s", line)
		}
	}
	if len(c.Refused) != 1 || c.Refused[0].Source != id || !strings.Contains(c.Refused[0].Why, "line break") {
		t.Errorf("refused %+v, want the tenant's key id for its line break", c.Refused)
	}
	if len(c.Missing) != 0 {
		t.Errorf("missing %v", c.Missing)
	}

	// The agent reports it: its objects carry the refusal for ConfigGenerated.
	o := Build(Input{Name: "default", Namespace: "logplane-system", Config: cfg, SecretValues: values})
	if len(o.Refused) != 1 || o.Refused[0].Source != id {
		t.Errorf("objects refused %+v", o.Refused)
	}
	if strings.Contains(string(o.CredentialsSecrets[0].Data[AWSCredentialsKey]), "[default]") {
		t.Error("the credentials Secret has a [default] profile")
	}
}

// Values that are not AWS keys at all are refused too, one reason each.
func TestCredentialsDataRefusesValuesNotShapedAsAWSKeys(t *testing.T) {
	id := render.SecretSource{Namespace: "t", Name: "aws", Key: "id"}
	secret := render.SecretSource{Namespace: "t", Name: "aws", Key: "secret"}
	cfg := render.Config{AWSProfiles: []render.AWSProfile{{Name: "lp-t", AccessKeyID: id, SecretAccessKey: secret}}}
	c := CredentialsData(cfg, map[render.SecretSource][]byte{id: []byte("AKIA IOSFODNN7EXAMPLE"), secret: []byte("x=y")})
	if len(c.Refused) != 2 || !strings.Contains(c.Refused[0].Why, "access key ID") || !strings.Contains(c.Refused[1].Why, "secret access key") {
		t.Errorf("refused %+v", c.Refused)
	}
	if strings.Contains(string(c.Data[AWSCredentialsKey]), "x=y") || strings.Contains(string(c.Data[AWSCredentialsKey]), "AKIA IOSF") {
		t.Errorf("a refused value was written:\n%s", c.Data[AWSCredentialsKey])
	}
}

// A value too large for a Secret beside others (a tenant's near-1 MiB value) is not
// copied: the credentials Secrets of every tenant still fit. Environment values
// lose the white space around them and may hold no line break or NUL; files are
// copied as they are.
func TestCredentialsDataRefusesValuesTooLargeOrNotOneLine(t *testing.T) {
	src := func(key string) render.SecretSource { return render.SecretSource{Namespace: "t", Name: "s", Key: key} }
	cfg := render.Config{
		Env: []render.EnvVar{{Name: "LP_HUGE", Source: src("huge")}, {Name: "LP_NUL", Source: src("nul")},
			{Name: "LP_LINES", Source: src("lines")}, {Name: "LP_ECHOED", Source: src("echoed")}},
		SecretFiles: []render.SecretFile{{Path: render.SecretFilesDir + "/ca", Source: src("ca")},
			{Path: render.SecretFilesDir + "/hugefile", Source: src("hugefile")}},
	}
	ca := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	values := map[render.SecretSource][]byte{
		src("huge"): bytes.Repeat([]byte{'a'}, 1_000_000), src("nul"): []byte("tok\x00en"),
		src("lines"): []byte("token\r\nX-Injected: 1"), src("echoed"): []byte("token\n"),
		src("ca"): []byte(ca), src("hugefile"): bytes.Repeat([]byte{'a'}, 1_000_000),
	}
	o := Build(Input{Name: "default", Namespace: "logplane-system", Config: cfg, SecretValues: values})
	refused := map[string]string{}
	for _, r := range o.Refused {
		refused[r.Source.Key] = r.Why
	}
	for key, why := range map[string]string{"huge": "more than 256 KiB", "hugefile": "more than 256 KiB",
		"nul": "NUL", "lines": "line break"} {
		if !strings.Contains(refused[key], why) {
			t.Errorf("%s: refused for %q, want %q", key, refused[key], why)
		}
	}
	if len(refused) != 4 {
		t.Errorf("refused %v", refused)
	}
	data := map[string][]byte{}
	for _, s := range o.CredentialsSecrets {
		size := 0
		for k, v := range s.Data {
			data[k], size = v, size+len(k)+len(v)
		}
		if size > maxCredentialsBytes {
			t.Errorf("%s holds %d bytes", s.Name, size)
		}
	}
	for key, want := range map[string]string{"LP_HUGE": refusedKey, "LP_NUL": refusedKey, "LP_LINES": refusedKey,
		"LP_ECHOED": "token", "ca": ca, "hugefile": refusedKey} {
		if string(data[key]) != want {
			t.Errorf("%s holds %.40q, want %.40q", key, data[key], want)
		}
	}
}
