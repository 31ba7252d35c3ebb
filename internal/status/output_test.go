package status

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
)

var (
	lokiOut = render.Ref{Kind: "LogOutput", Namespace: "team-a", Name: "loki"}
	s3Out   = render.Ref{Kind: "ClusterLogOutput", Name: "archive"}
)

func users(n int) []v1.ObjectReference {
	refs := make([]v1.ObjectReference, n)
	for i := range refs {
		refs[i] = v1.ObjectReference{Kind: "LogPipeline", Namespace: "team-a", Name: fmt.Sprintf("p%04d", i)}
	}
	return refs
}

func TestBoardNotifiesOnlyChangedOutputs(t *testing.T) {
	b := NewBoard()
	var got []render.Ref
	for _, k := range []string{"LogOutput", "ClusterLogOutput"} {
		b.Listen(k, func(r render.Ref) { got = append(got, r) })
	}
	steps := []struct {
		name     string
		verdicts map[render.Ref]OutputVerdict
		want     []render.Ref
	}{
		{"first render", map[render.Ref]OutputVerdict{lokiOut: NewOutputVerdict(configured(1), users(1)), s3Out: NewOutputVerdict(configured(1), nil)}, []render.Ref{lokiOut, s3Out}},
		{"same again", map[render.Ref]OutputVerdict{lokiOut: NewOutputVerdict(configured(1), users(1)), s3Out: NewOutputVerdict(configured(1), nil)}, nil},
		{"a pipeline starts using one", map[render.Ref]OutputVerdict{lokiOut: NewOutputVerdict(configured(1), users(2)), s3Out: NewOutputVerdict(configured(1), nil)}, []render.Ref{lokiOut}},
		{"a generation moves", map[render.Ref]OutputVerdict{lokiOut: NewOutputVerdict(configured(1), users(2)), s3Out: NewOutputVerdict(configured(2), nil)}, []render.Ref{s3Out}},
		{"one is deleted", map[render.Ref]OutputVerdict{lokiOut: NewOutputVerdict(configured(1), users(2))}, []render.Ref{s3Out}},
	}
	for _, s := range steps {
		got = nil
		b.PublishOutputs(s.verdicts)
		byIdentity := func(a, b render.Ref) int { return strings.Compare(a.String(), b.String()) }
		slices.SortFunc(got, byIdentity)
		slices.SortFunc(s.want, byIdentity)
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: notified %v, want %v", s.name, got, s.want)
		}
	}
	if _, ok := b.Output(s3Out); ok {
		t.Error("a deleted output still has a verdict")
	}
	if v, ok := b.Output(lokiOut); !ok || v.PipelineCount != 2 {
		t.Errorf("verdict %+v, %v; want two users", v, ok)
	}
}

func TestApplyOutput(t *testing.T) {
	missing := conditions.New(conditions.TypeConfigGenerated, metav1.ConditionFalse, conditions.ReasonSecretNotFound, 3, "team-a/token", "t")
	retention := metav1.Condition{Type: "RetentionApplied", Status: metav1.ConditionTrue, Reason: "Applied", ObservedGeneration: 3}
	for _, tc := range []struct {
		name        string
		before      v1.OutputStatus
		verdict     OutputVerdict
		wantChanged bool
		wantReady   metav1.ConditionStatus
		wantListed  int
	}{
		{"empty status gets everything", v1.OutputStatus{}, NewOutputVerdict(configured(3), users(2)), true, metav1.ConditionTrue, 2},
		{"the list is capped, the count is not", v1.OutputStatus{}, NewOutputVerdict(configured(3), users(250)), true, metav1.ConditionTrue, MaxListedPipelines},
		{"a missing secret holds Ready back", v1.OutputStatus{}, NewOutputVerdict(missing, nil), true, metav1.ConditionFalse, 0},
	} {
		st := tc.before
		st.Conditions = append(st.Conditions, retention)
		if changed := ApplyOutput(&st, tc.verdict); changed != tc.wantChanged {
			t.Errorf("%s: changed=%v, want %v", tc.name, changed, tc.wantChanged)
		}
		if r := meta.FindStatusCondition(st.Conditions, conditions.TypeReady); r == nil || r.Status != tc.wantReady {
			t.Errorf("%s: Ready %+v, want %s", tc.name, r, tc.wantReady)
		}
		if meta.FindStatusCondition(st.Conditions, "RetentionApplied") == nil {
			t.Errorf("%s: another controller's condition was taken away", tc.name)
		}
		if len(st.Pipelines) != tc.wantListed || st.PipelineCount != tc.verdict.PipelineCount || st.ObservedGeneration != 3 {
			t.Errorf("%s: listed %d (want %d), count %d, observedGeneration %d", tc.name, len(st.Pipelines), tc.wantListed, st.PipelineCount, st.ObservedGeneration)
		}
		// Applying the same verdict again changes nothing: no write.
		if ApplyOutput(&st, tc.verdict) {
			t.Errorf("%s: a second apply of the same verdict reports a change", tc.name)
		}
	}
}
