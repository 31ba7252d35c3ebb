package integration

import (
	"encoding/json"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/test/testenv"
)

// Every duration the API server admits decodes in Go and means something to Fluent
// Bit. Before the bounds, a RetentionPolicy with retry.maxDuration: 99999999999h
// passed the CRD's regex, and then no Go client could decode it: the operator's cache
// of RetentionPolicies failed to list, and with it every render. Each field is tried
// just inside and just outside its bounds, applied server-side as kubectl and Argo CD
// apply, from unstructured objects so that the strings reach the API server as
// written.
func TestDurationBounds(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	s3 := func(d string) string {
		return output("type: s3\ns3: {aws: {region: eu-west-1}, bucket: logs, uploadTimeout: \"" + d + "\"}")
	}
	retry := func(d string) string {
		return "apiVersion: logging.logplane.dev/v1alpha1\nkind: RetentionPolicy\nmetadata: {name: bounds}\n" +
			"spec: {retention: 30d, retry: {maxDuration: \"" + d + "\"}}\n"
	}
	throttle := func(d string) string {
		return pipeline("input: {containers: {}}\noutputRefs: [o]\nfilters: [{type: throttle, throttle: {records: 10, interval: \"" + d + "\"}}]")
	}
	const (
		s3Msg       = "must be a duration from 1s to 168h"
		retryMsg    = "must be a duration from 0s (no limit) to 8760h"
		throttleMsg = "must be from 1s to 24h in whole seconds, minutes or hours"
	)
	for _, tc := range []struct {
		field, value, yaml string
		wantMsg            string // empty: admitted
	}{
		// S3 uploadTimeout: Fluent Bit counts whole seconds (1s is the least it is
		// written as without rounding 0 up); its upload timer overflows an int past
		// about 149 days, and a week is already long for records to wait on a node.
		{"uploadTimeout", "1s", s3("1s"), ""},
		{"uploadTimeout", "168h", s3("168h"), ""},
		{"uploadTimeout", "1h30m", s3("1h30m"), ""},
		{"uploadTimeout", "167h59m59.999s", s3("167h59m59.999s"), ""},
		{"uploadTimeout", "999ms", s3("999ms"), s3Msg},
		{"uploadTimeout", "0s", s3("0s"), s3Msg},
		{"uploadTimeout", "168h1ms", s3("168h1ms"), s3Msg},
		{"uploadTimeout", "99999999999h", s3("99999999999h"), s3Msg},
		{"uploadTimeout", "1.0000000000000000001s", s3("1.0000000000000000001s"), s3Msg},

		// retry.maxDuration: 0s means no limit; a year is the most a retry budget
		// sensibly spans (Go's durations end at 2,562,047h).
		{"maxDuration", "0s", retry("0s"), ""},
		{"maxDuration", "8760h", retry("8760h"), ""},
		{"maxDuration", "525600m", retry("525600m"), ""},
		{"maxDuration", "8759h59m59.999s", retry("8759h59m59.999s"), ""},
		{"maxDuration", "8760h1ms", retry("8760h1ms"), retryMsg},
		{"maxDuration", "8761h", retry("8761h"), retryMsg},
		{"maxDuration", "2562048h", retry("2562048h"), retryMsg},
		{"maxDuration", "99999999999h", retry("99999999999h"), retryMsg},
		{"maxDuration", "-1h", retry("-1h"), retryMsg},

		// throttle interval: Fluent Bit sleeps whole seconds between window slides; at 0
		// its ticker thread spins a core, and past an int of seconds it overflows.
		{"interval", "1s", throttle("1s"), ""},
		{"interval", "24h", throttle("24h"), ""},
		{"interval", "86400s", throttle("86400s"), ""},
		{"interval", "0s", throttle("0s"), throttleMsg},
		{"interval", "25h", throttle("25h"), throttleMsg},
		{"interval", "86401s", throttle("86401s"), throttleMsg},
		{"interval", "99999999999h", throttle("99999999999h"), "Too long: may not be more than 6"},
	} {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			objs, err := testenv.DecodeYAML([]byte(tc.yaml))
			if err != nil || len(objs) != 1 {
				t.Fatalf("bad test case YAML (%d objects): %v", len(objs), err)
			}
			err = k8s.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(objs[0]),
				client.FieldOwner("validation-test"), client.ForceOwnership, client.DryRunAll)
			switch {
			case tc.wantMsg == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantMsg == "":
				// Admitted, so the operator's cache must be able to read it.
				typed, err := k8s.Scheme().New(objs[0].GroupVersionKind())
				if err != nil {
					t.Fatal(err)
				}
				data, err := json.Marshal(objs[0].Object)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(data, typed); err != nil {
					t.Fatalf("admitted, but Go cannot decode it: %v", err)
				}
			case err == nil:
				t.Fatalf("admitted; want rejection with %q", tc.wantMsg)
			case !apierrors.IsInvalid(err):
				t.Fatalf("want an Invalid error, got %v", err)
			case !strings.Contains(err.Error(), tc.wantMsg):
				t.Fatalf("error does not say %q:\n%v", tc.wantMsg, err)
			}
		})
	}
}
