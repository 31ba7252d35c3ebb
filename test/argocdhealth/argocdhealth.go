// Package argocdhealth runs logplane's Argo CD health checks the way Argo CD does: the
// Lua script with gopher-lua (the interpreter Argo CD embeds), the object as the
// global obj decoded from JSON, and the status and message of the returned table.
package argocdhealth

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"
)

// Group is the API group whose kinds have health checks.
const Group = "logging.logplane.dev"

// Script is the path of kind's health check under the repository root.
func Script(root, kind string) string {
	return filepath.Join(root, "config", "argocd", "health", Group, kind, "health.lua")
}

// Run evaluates the script at path on obj. obj goes through JSON first, so numbers
// arrive as Lua numbers exactly as Argo CD passes them, whatever Go type held them.
func Run(path string, obj any) (status, message string, err error) {
	script, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return "", "", err
	}
	var decoded any
	if err := json.Unmarshal(data, &decoded); err != nil {
		return "", "", err
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	L.SetGlobal("obj", toLua(L, decoded))
	if err := L.DoString(string(script)); err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("%s returned %v, want a table", path, L.Get(-1))
	}
	st, ok := hs.RawGetString("status").(lua.LString)
	if !ok {
		return "", "", fmt.Errorf("%s returned no status", path)
	}
	msg, _ := hs.RawGetString("message").(lua.LString)
	return string(st), string(msg), nil
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, val := range x {
			t.RawSetString(k, toLua(L, val))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, val := range x {
			t.Append(toLua(L, val))
		}
		return t
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	}
	return lua.LNil
}
