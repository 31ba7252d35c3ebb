package rawparams

import (
	"slices"
	"strings"
	"testing"
)

// Every key with a value rule is one rawParameters may set on its plugin (a rule on
// a refused key would never run), log_level on every plugin.
func TestValueRulesAreOnAllowedKeys(t *testing.T) {
	for _, plugin := range valueRulePlugins() {
		if _, ok := documented[plugin]; !ok {
			t.Errorf("value rules for %s, which has no documented keys", plugin)
		}
		for key, rule := range valueRules[plugin] {
			if !slices.Contains(Allowed(plugin), key) {
				t.Errorf("%s %s has a value rule but is not an allowed key", plugin, key)
			}
			for _, v := range rule.values {
				if !rule.exact && v != strings.ToLower(v) {
					t.Errorf("%s %s: %q must be lower case", plugin, key, v)
				}
			}
		}
	}
	for _, plugin := range Plugins() {
		for key := range valueRules["*"] {
			if !slices.Contains(Allowed(plugin), key) {
				t.Errorf("%s: %s is not an allowed key", plugin, key)
			}
		}
	}
}

func TestCheckValue(t *testing.T) {
	for _, tc := range []struct {
		plugin, key, value string
		refused            bool
	}{
		{"http", "compress", "gzip", false},
		{"http", "compress", "Zstd", false},
		{"http", "compress", "bogus", true},
		{"http", "compress", "", true},
		{"http", "http_method", "BOGUS", true},
		{"http", "http_method", "PUT", false},
		{"http", "format", "anything", false}, // not checked at start
		{"s3", "compression", "gzip", false},
		{"s3", "compression", "GZIP", true}, // strcmp
		{"s3", "format", "msgpack", true},
		{"loki", "line_format", "Key_Value", false},
		{"loki", "tenant_id_key_error_handling", "ignore", true},
		{"syslog", "log_level", "trace", false},
		{"syslog", "log_level", "verbose", true},
		{"kafka", "format", "bogus", false},
	} {
		why := CheckValue(tc.plugin, tc.key, tc.value)
		if (why != "") != tc.refused {
			t.Errorf("%s %s=%q: %q, want refused %v", tc.plugin, tc.key, tc.value, why, tc.refused)
		}
		if tc.refused && !strings.Contains(why, "write one of "+strings.Join(Values(tc.plugin, tc.key), ", ")) {
			t.Errorf("%s %s=%q: %q does not list the values", tc.plugin, tc.key, tc.value, why)
		}
	}
}
