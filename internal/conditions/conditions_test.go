package conditions

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every Reason constant has a message and every message a constant; reasons are
// CamelCase as metav1.Condition requires.
func TestCatalogueIsComplete(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "conditions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	reasonRE := regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	declared := map[string]bool{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Reason") {
					continue
				}
				value, _ := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
				declared[value] = true
				if !reasonRE.MatchString(value) {
					t.Errorf("%s = %q is not CamelCase", name.Name, value)
				}
				if _, ok := messages[value]; !ok {
					t.Errorf("%s has no message", name.Name)
				}
			}
		}
	}
	for reason := range messages {
		if !declared[reason] {
			t.Errorf("message for %q has no Reason constant", reason)
		}
	}
}

func TestNewFillsMessageAndGeneration(t *testing.T) {
	c := New(TypeConfigGenerated, metav1.ConditionFalse, ReasonOutputNotFound, 7, "LogOutput team-a/es")
	if c.ObservedGeneration != 7 || c.Reason != ReasonOutputNotFound || c.Type != TypeConfigGenerated {
		t.Fatalf("unexpected condition %+v", c)
	}
	if want := "Output LogOutput team-a/es does not exist"; !strings.HasPrefix(c.Message, want) {
		t.Errorf("message %q does not start with %q", c.Message, want)
	}
	if got := Message("NoSuchReason"); !strings.Contains(got, "unknown reason") {
		t.Errorf("unknown reason rendered as %q", got)
	}
}
