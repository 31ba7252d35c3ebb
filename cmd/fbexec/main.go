// Command fbexec starts Fluent Bit in an agent pod with its soft open-files limit
// raised to the hard one (see internal/fbexec). It is a binary of its own, shipped in
// the operator image beside logplane, because the agent pod's init container copies
// it into an emptyDir at every pod start: 1.5 MB instead of logplane's 68 MB.
//
//	fbexec install PATH                       copy this binary to PATH (the init container)
//	fbexec -- /fluent-bit/bin/fluent-bit ARGS  raise the limit, then become Fluent Bit
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/logplane/logplane/internal/fbexec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	switch {
	case len(args) == 2 && args[0] == "install":
		if err := fbexec.Install(args[1]); err != nil {
			fmt.Fprintf(stderr, "fbexec install: %v\n", err)
			return 1
		}
		return 0
	case len(args) >= 2 && args[0] == "--":
		// Exec returns only when the exec failed; 127 as a shell says "not found".
		fmt.Fprintf(stderr, "fbexec: %v\n", fbexec.Exec(args[1:], stderr))
		return 127
	default:
		fmt.Fprint(stderr, "usage: fbexec install PATH\n       fbexec -- /fluent-bit/bin/fluent-bit ARGS...\n")
		return 2
	}
}
