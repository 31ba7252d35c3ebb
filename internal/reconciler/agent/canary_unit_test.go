package agent

import (
	"testing"

	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
)

func TestNamedOutput(t *testing.T) {
	lp := render.Ref{Kind: alias.LogPipeline, Namespace: "cn-bad", Name: "logs"}
	cout := render.Ref{Kind: alias.ClusterLogOutput, Name: "canary-bad"}
	line := "[output:http:lp_lpl_cn-bad_logs_clout_canary-bad] invalid compress option 'bogus'; [output] failed to initialize 'http' plugin"
	for _, tc := range []struct {
		name     string
		pipeline render.Ref
		message  string
		rejected map[render.Ref]canary.Rejection
		want     []render.Ref
	}{
		{"the pipeline's own output section", lp, line, nil, []render.Ref{cout}},
		{"a LogOutput lives in the pipeline's namespace", lp,
			"[output:http:lp_lpl_cn-bad_logs_lout_out] invalid compress option 'bogus'", nil,
			[]render.Ref{{Kind: alias.LogOutput, Namespace: "cn-bad", Name: "out"}}},
		{"another pipeline's section", render.Ref{Kind: alias.LogPipeline, Namespace: "cn-2", Name: "logs"}, line, nil, nil},
		{"no section named", lp, "[output http.4] error initializing TLS context", nil, nil},
		{"the output is rejected itself", lp, line, map[render.Ref]canary.Rejection{cout: {}}, nil},
		{"an output is not a pipeline", cout, line, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := namedOutput(tc.pipeline, canary.Rejection{Message: tc.message}, tc.rejected, "default")
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i, p := range got {
				if p.Ref != tc.want[i] || p.Reason != conditions.ReasonRejectedByAgent {
					t.Errorf("problem %d = %v, want RejectedByAgent on %v", i, p, tc.want[i])
				}
			}
		})
	}
}
