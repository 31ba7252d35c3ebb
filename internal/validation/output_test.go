package validation

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/test/fbrun"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// cloudIDCases are Elastic Cloud IDs, whether ElasticCloudID accepts each, and whether
// Fluent Bit 5.1.1's es output starts with it (TestElasticCloudIDsInFluentBit).
var cloudIDCases = []struct {
	name, id string
	ok       bool
	starts   bool
}{
	{"elastic's example", "my-deployment:" + b64("us-central1.gcp.cloud.es.io$cec6f261a74bf24ce33bb8811b84294f$c6c2ca6d042249af0cc7d7a9e9625743"), true, true},
	{"port on the domain", "dev:" + b64("eu-west-1.aws.found.io:9243$4fa8821e75634032bed1cf22110e2f97$4fa8821e75634032bed1cf22110e2f96"), true, true},
	{"port on the host", "dev:" + b64("eu-west-1.aws.found.io$4fa8821e75634032bed1cf22110e2f97:9243"), true, true},
	{"no kibana id", "dev:" + b64("eu-west-1.aws.found.io$4fa8821e75634032bed1cf22110e2f97"), true, true},
	{"unpadded", "dev:" + strings.TrimRight(b64("eu-west-1.aws.found.io$4fa8821e75634032bed1cf22110e2f9"), "="), true, true},
	{"empty name", ":" + b64("eu-west-1.aws.found.io$abc"), true, true},
	// The input of issue 18: the Elasticsearch id is missing.
	{"no elasticsearch id", "dev:" + b64("eu-west-1.aws.found.io"), false, false},
	{"empty elasticsearch id", "dev:" + b64("eu-west-1.aws.found.io$$kibana"), false, true},
	{"no colon", b64("eu-west-1.aws.found.io$abc$def"), false, false},
	{"not base64", "dev:eu-west-1.aws.found.io$abc$def", false, false},
	{"too long for Fluent Bit", "dev:" + b64(strings.Repeat("a", 200)+"$"+strings.Repeat("b", 60)), false, false},
	{"no host name", "dev:" + b64("eu-west-1 aws$abc"), false, true},
	{"two ports", "dev:" + b64("found.io:1$abc:2"), false, true},
}

func TestElasticCloudID(t *testing.T) {
	for _, c := range cloudIDCases {
		err := ElasticCloudID(c.id)
		if (err == nil) != c.ok {
			t.Errorf("%s (%s): got %v, want ok=%v", c.name, c.id, err, c.ok)
		}
	}
	id := v1.ConfigString("dev:" + b64("eu-west-1.aws.found.io"))
	errs := OutputSpec(&v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{CloudID: &id}})
	if len(errs) != 1 || errs[0].Field != "spec.elasticsearch.cloudId" {
		t.Errorf("OutputSpec: %v", errs)
	}
}

// Every Cloud ID ElasticCloudID accepts starts Fluent Bit's es output, and the ones
// Fluent Bit refuses at start it refuses too. (It also refuses some Fluent Bit would
// start, whose host is no host name: the table says which.)
func TestElasticCloudIDsInFluentBit(t *testing.T) {
	bin := fbrun.Binary(t)
	var wg sync.WaitGroup
	for _, c := range cloudIDCases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			starts, log := startsWithCloudID(t, bin, c.id)
			if starts != c.starts {
				t.Errorf("%s: Fluent Bit started: %v, want %v\n%s", c.name, starts, c.starts, log)
			}
			if c.ok && !starts {
				t.Errorf("%s: accepted, but Fluent Bit refuses it", c.name)
			}
		}()
	}
	wg.Wait()
}

// startsWithCloudID starts Fluent Bit with an es output using id, and reports whether
// it is still running after a while, with its log.
func startsWithCloudID(t *testing.T, bin, id string) (bool, string) {
	cfg := fluentbit.Config{
		Service: []fluentbit.Param{{Key: "log_level", Value: fluentbit.String("info")}},
		Inputs:  []fluentbit.Section{{Name: "dummy", Params: []fluentbit.Param{{Key: "rate", Value: fluentbit.Int(1)}}}},
		Outputs: []fluentbit.Section{{Name: "es", Match: "*", Params: []fluentbit.Param{
			{Key: "cloud_id", Value: fluentbit.String(id)},
			{Key: "tls", Value: fluentbit.Bool(true)},
		}}},
	}
	main, err := cfg.Marshal()
	if err != nil {
		t.Error(err)
		return false, ""
	}
	p, err := fbrun.Pod{Binary: bin, Files: map[string][]byte{fbrun.MainConfig: main}, PrivateNetwork: true}.Start()
	if err != nil {
		t.Error(err)
		return false, ""
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if done, _ := p.Exited(); done {
			return false, p.Log()
		}
		if strings.Contains(p.Log(), "sp] stream processor started") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		return false, p.Log()
	}
	return true, p.Log()
}
