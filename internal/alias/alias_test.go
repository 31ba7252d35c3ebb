package alias

import (
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	cases := []struct {
		name string
		in   Output
		want string
	}{
		{"tenant pipeline to its own output",
			Output{LogPipeline, "team-a", "web", LogOutput, "es"}, "lp_lpl_team-a_web_lout_es"},
		{"tenant pipeline to a cluster output",
			Output{LogPipeline, "team-a", "web.v2", ClusterLogOutput, "s3.audit"}, "lp_lpl_team-a_web.v2_clout_s3.audit"},
		{"cluster pipeline",
			Output{ClusterLogPipeline, "", "audit", ClusterLogOutput, "s3"}, "lp_clpl__audit_clout_s3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.Encode()
			if got != tc.want {
				t.Fatalf("Encode = %q, want %q", got, tc.want)
			}
			back, ok := Decode(got)
			if !ok || back != tc.in {
				t.Fatalf("Decode(%q) = %+v, %v; want %+v", got, back, ok, tc.in)
			}
		})
	}
}

func TestEncodeRefusesWhatCannotRoundTrip(t *testing.T) {
	for _, o := range []Output{
		{"Pod", "ns", "p", LogOutput, "o"},
		{LogPipeline, "ns", "p", "Secret", "o"},
		{LogPipeline, "ns", "p_q", LogOutput, "o"},
		{LogPipeline, "ns", "", LogOutput, "o"},
		{LogPipeline, "ns", "p", LogOutput, ""},
	} {
		if got := o.Encode(); got != "" {
			t.Errorf("Encode(%+v) = %q, want refusal", o, got)
		}
	}
}

func TestDecodeRejectsForeignNames(t *testing.T) {
	for _, s := range []string{
		"", "tail.0", "containers", "lp.LogPipeline.team-a.web.o0", "lp_lpl_ns_p_lout",
		"lp_lpl__p_lout_o",    // tenant pipeline without namespace
		"lp_clpl_ns_p_lout_o", // cluster pipeline with namespace
		"lp_lout_ns_p_lpl_o",  // kinds swapped
		"xx_lpl_ns_p_lout_o", "lp_lpl_ns_p_lout_o_extra",
	} {
		if o, ok := Decode(s); ok {
			t.Errorf("Decode(%q) = %+v, want rejection", s, o)
		}
	}
}

// Decode never accepts a string that Encode would not produce from its result.
func FuzzDecodeIsInverseOfEncode(f *testing.F) {
	f.Add("lp_lpl_team-a_web_lout_es")
	f.Add("lp_clpl__audit_clout_s3")
	f.Add("lp_lpl_ns__lout_o")
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := Decode(s)
		if !ok {
			return
		}
		if got := o.Encode(); got != s {
			t.Fatalf("Decode(%q) = %+v, which encodes to %q", s, o, got)
		}
	})
}
