package render

import (
	"fmt"
	"strings"

	"github.com/logplane/logplane/internal/conditions"
)

// Ref identifies a logplane resource.
type Ref struct {
	Kind      string
	Namespace string
	Name      string
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

func compareRefs(a, b Ref) int {
	// strings.Compare looks at each pair once; cmp.Compare tests < and then >.
	if c := strings.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// Problem is something wrong with one resource, for its own status. Unless Warning is
// set, the resource (or the part of it the message names) is left out of the
// configuration; nothing else is affected.
type Problem struct {
	Ref     Ref
	Reason  string
	Message string
	Warning bool
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Ref, p.Reason, p.Message) }

func problem(ref Ref, reason string, args ...any) Problem {
	return Problem{Ref: ref, Reason: reason, Message: conditions.Message(reason, args...)}
}
