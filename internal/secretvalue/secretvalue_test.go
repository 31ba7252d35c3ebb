package secretvalue

import (
	"strings"
	"testing"
)

func TestUses(t *testing.T) {
	const line = SingleLine | Bounded
	for _, c := range []struct {
		value string
		want  Use
	}{
		{"AKIAIOSFODNN7EXAMPLE", AWSAccessKeyID | AWSSecretAccessKey | line}, // base64 letters fit both
		{"AKIAIOSFODNN7EXAMPLE\n", AWSAccessKeyID | AWSSecretAccessKey | line},
		{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", AWSSecretAccessKey | line},
		{"ASIA_TEMPORARY_KEY_ID", AWSAccessKeyID | line},
		// The attack of issue 19: a second line that adds a [default] profile.
		{"AKIAIOSFODNN7EXAMPLE\n[default]\naws_access_key_id = X", Bounded},
		{"AKIAIOSFODNN7EXAMPLE\r[default]", Bounded},
		// A NUL keeps a container whose environment holds the value from starting.
		{"token\x00", Bounded},
		{"tok\x00en", Bounded},
		{"token\n", line},
		{strings.Repeat("A", MaxBytes), line},
		{strings.Repeat("A", MaxBytes+1), 0},
		{"AKIA IOSFODNN7EXAMPLE", line},
		{"AKIAIOSFODNN7EXAMPLE=", line},
		{"[default]AKIAIOSFODNN7", line},
		{"short", line},
		{"", line},
		{strings.Repeat("A", 129), line},
		{"-----BEGIN CERTIFICATE-----\n" + strings.Repeat("MIIB", 100) + "\n-----END CERTIFICATE-----\n", Bounded},
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

func TestWhyNamesTheEnvironmentAndTheSize(t *testing.T) {
	if why := Why([]byte("tok\nen"), SingleLine|Bounded); !strings.Contains(why, "environment variable") {
		t.Errorf("Why = %q", why)
	}
	if why := Why(make([]byte, MaxBytes+1), Bounded); !strings.Contains(why, "more than 256 KiB") {
		t.Errorf("Why = %q", why)
	}
}
