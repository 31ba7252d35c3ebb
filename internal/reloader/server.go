package reloader

import (
	"encoding/json"
	"net/http"
)

// Paths the reloader serves on its status port.
const (
	// StatusPath answers 503 until the configuration is staged (the startup probe:
	// Fluent Bit starts only after it passes), then Status as JSON.
	StatusPath = "/status"
	// ReadyPath answers 503 while a refused configuration is held back, so the pod
	// is not Ready and the operator looks at StatusPath.
	ReadyPath = "/readyz"
)

// Handler serves the reloader's status.
func (r *Reloader) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StatusPath, func(w http.ResponseWriter, _ *http.Request) {
		st, staged := r.Status()
		if !staged {
			http.Error(w, "the configuration is not staged yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		st, staged := r.Status()
		switch {
		case !staged:
			http.Error(w, "the configuration is not staged yet", http.StatusServiceUnavailable)
		case st.Refused != "":
			http.Error(w, "Fluent Bit refused configuration "+st.Refused+": "+st.Message, http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ok\n"))
		}
	})
	return mux
}
