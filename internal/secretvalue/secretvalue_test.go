package secretvalue

import (
	"strings"
	"testing"
)

func TestUses(t *testing.T) {
	const line = SingleLine
	for _, c := range []struct {
		value string
		want  Use
	}{
		{"AKIAIOSFODNN7EXAMPLE", AWSAccessKeyID | AWSSecretAccessKey | line}, // base64 letters fit both
		{"AKIAIOSFODNN7EXAMPLE\n", AWSAccessKeyID | AWSSecretAccessKey | line},
		{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", AWSSecretAccessKey | line},
		{"ASIA_TEMPORARY_KEY_ID", AWSAccessKeyID | line},
		// The attack of issue 19: a second line that adds a [default] profile.
		{"AKIAIOSFODNN7EXAMPLE\n[default]\naws_access_key_id = X", 0},
		{"AKIAIOSFODNN7EXAMPLE\r[default]", 0},
		{"AKIA IOSFODNN7EXAMPLE", line},
		{"AKIAIOSFODNN7EXAMPLE=", line},
		{"[default]AKIAIOSFODNN7", line},
		{"short", line},
		{"", line},
		{strings.Repeat("A", 129), line},
		{"-----BEGIN CERTIFICATE-----\n" + strings.Repeat("MIIB", 100) + "\n-----END CERTIFICATE-----\n", 0},
	} {
		if got := Uses([]byte(c.value)); got != c.want {
			t.Errorf("Uses(%q) = %b, want %b", c.value, got, c.want)
		}
	}
}

func TestWhyNamesLineBreaks(t *testing.T) {
	if why := Why([]byte("AKIAIOSFODNN7EXAMPLE\n[default]\n"), AWSAccessKeyID); !strings.Contains(why, "line break") {
		t.Errorf("Why = %q", why)
	}
	if why := Why([]byte("short"), AWSSecretAccessKey); !strings.Contains(why, "secret access key") {
		t.Errorf("Why = %q", why)
	}
}
