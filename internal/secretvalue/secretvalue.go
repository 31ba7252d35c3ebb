// Package secretvalue says what a Secret value is fit for when the operator writes it
// into a file it assembles from several Secrets — today the AWS shared credentials
// file of an agent or sidecar, which holds a profile per output. There a value is
// text inside a line: a line break in it would add lines of its author's choosing (a
// [default] profile, which every output relying on the node's identity would then
// sign with), so values are held to the shape of what they stand for.
//
// The controller classifies each value it reads (Uses) and puts only the result in
// the renderer's snapshot, which never holds values; the renderer then refuses an
// output whose Secret keys do not fit their use, and the agent objects refuse to
// write a value that does not fit, whatever the renderer decided.
package secretvalue

import (
	"bytes"
	"fmt"
	"regexp"
)

// Use is a set of uses a value is fit for.
type Use uint8

const (
	// AWSAccessKeyID is the aws_access_key_id of a profile.
	AWSAccessKeyID Use = 1 << iota
	// AWSSecretAccessKey is the aws_secret_access_key of a profile.
	AWSSecretAccessKey
	// SingleLine is any value written as part of one line of a file, or carried by an
	// environment variable of the agent: no line break, and no NUL character (a
	// process's environment is NUL-terminated strings, so none can pass one intact).
	// Every AWS use implies it.
	SingleLine
	// Bounded is any value the operator copies into a Secret of its own beside other
	// outputs' values: at most MaxBytes. Every use implies it.
	Bounded
)

// MaxBytes bounds one Secret value an output uses. The agent's credentials Secrets
// hold every output's values, each Secret under 1 MiB: a tenant's value near 1 MiB
// would fit in no Secret, and the apply of them all would fail, for every tenant. A
// CA bundle as large as Mozilla's (about 220 KB of PEM) fits.
const MaxBytes = 256 << 10

// The shapes AWS gives its keys. IAM documents an access key ID as 16 to 128 word
// characters (AccessKey.AccessKeyId: [\w]+); secret access keys are 40 characters of
// base64 (A-Z, a-z, 0-9, '+', '/'), held here to 16 to 128 of them.
var (
	accessKeyID     = regexp.MustCompile(`^[A-Za-z0-9_]{16,128}$`)
	secretAccessKey = regexp.MustCompile(`^[A-Za-z0-9+/]{16,128}$`)
)

// maxLen is longer than any AWS key: longer values (certificates) are not matched
// against the shapes of keys.
const maxLen = 256

// Trim returns v without the white space around it, such as the newline `echo`
// leaves at the end of a file given to kubectl create secret --from-file. The value
// written is the trimmed one; Fluent Bit would ignore that white space anyway.
func Trim(v []byte) []byte { return bytes.TrimSpace(v) }

// Uses returns the uses v is fit for.
func Uses(v []byte) Use {
	var u Use
	if len(v) > MaxBytes {
		return 0
	}
	u |= Bounded
	v = Trim(v)
	if !bytes.ContainsAny(v, "\r\n\x00") {
		u |= SingleLine
	}
	if len(v) > maxLen {
		return u
	}
	if accessKeyID.Match(v) {
		u |= AWSAccessKeyID
	}
	if secretAccessKey.Match(v) {
		u |= AWSSecretAccessKey
	}
	return u
}

// Why says why a value is not fit for u, for a message that names the Secret key:
// "Secret ns/name key k <Why>".
func Why(v []byte, u Use) string { return Explain(Uses(v), u) }

// Explain says why a value fit for have is not fit for want, for when the value is not
// at hand (the renderer knows only which uses a value fits).
func Explain(have, want Use) string {
	aws := want&(AWSAccessKeyID|AWSSecretAccessKey) != 0
	switch {
	case have&Bounded == 0:
		return fmt.Sprintf("holds more than %d KiB: the agent copies it into credentials Secrets it shares with every output, each under the 1 MiB a Secret holds", MaxBytes>>10)
	case have&SingleLine == 0 && aws:
		return "holds a line break: written into the AWS credentials file every output shares, it would add lines to it"
	case have&SingleLine == 0 && want&SingleLine != 0:
		return "holds a line break or a NUL character: Fluent Bit reads it from an environment variable, which cannot carry a NUL, and writes tokens into request headers as they are, where a line break adds headers"
	}
	switch want {
	case AWSAccessKeyID:
		return "is not an AWS access key ID: 16 to 128 letters, digits or '_', nothing else"
	case AWSSecretAccessKey:
		return "is not an AWS secret access key: 16 to 128 letters, digits, '+' or '/', nothing else"
	}
	return "is not fit for its use"
}
