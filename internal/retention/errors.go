package retention

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Errors from destinations, in our own words.
//
// The appliers call whatever host and port an output names, from inside the
// operator's namespace, and the error ends up in a status its tenant reads. An
// answer's body, an error's free text, or a transport error's detail would turn the
// operator into a way to read, or probe, services the tenant cannot reach: an
// internal API's error page, a metadata service's answer. So what reaches a status
// is an HTTP status code, a fixed message of ours for it, and for AWS services the
// error code when it is one of a known set of short tokens; never text the
// destination wrote.

// errNotPolicy is an answer that is not the JSON document asked for; what the
// parser says about it would quote the answer.
var errNotPolicy = errors.New("the answer is not the document asked for")

// DestinationError is a call to a destination that failed.
type DestinationError struct {
	// Verb is what we tried, in our words ("read ISM policy lp-x").
	Verb string
	// Status is the HTTP status the destination answered with; 0 when it did not
	// answer (Unreachable).
	Status int
	// Code is an AWS error code from awsCodes, or "".
	Code string
	// Unreachable says why there was no answer, in our words.
	Unreachable string
}

func (e *DestinationError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("failed to %s: %s", e.Verb, e.Unreachable)
	}
	msg := fmt.Sprintf("failed to %s: the destination answered HTTP %d (%s)", e.Verb, e.Status, statusMeaning(e.Status))
	if e.Code != "" {
		msg += ", AWS error " + e.Code
	}
	return msg
}

// statusMeaning says what a status means for retention, whatever the destination.
func statusMeaning(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "the credentials were not accepted"
	case status == http.StatusForbidden:
		return "the credentials may not manage retention there"
	case status == http.StatusNotFound:
		return "not found"
	case status == http.StatusConflict:
		return "changed concurrently; retried at the next interval"
	case status == http.StatusTooManyRequests:
		return "throttled; retried at the next interval"
	case status >= 500:
		return "the destination failed; retried at the next interval"
	case status >= 400:
		return "the destination refused the request"
	}
	return "not a success"
}

// unreachable says, in our words, why a call got no answer. Timeouts and refused
// connections read the same, so that status does not tell ports apart.
func unreachable(err error) string {
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var record tls.RecordHeaderError
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostname):
		return "its TLS certificate is not trusted for that name (see the output's tls block)"
	case errors.As(err, &record):
		return "it does not speak TLS"
	}
	return "the destination could not be reached or did not answer in time"
}

// callError turns a failed REST call into a DestinationError.
func callError(verb string, err error) error {
	var rest *restError
	if errors.As(err, &rest) {
		return &DestinationError{Verb: verb, Status: rest.Status}
	}
	var d *DestinationError
	if errors.As(err, &d) {
		return &DestinationError{Verb: verb, Status: d.Status, Code: d.Code, Unreachable: d.Unreachable}
	}
	return &DestinationError{Verb: verb, Unreachable: unreachable(err)}
}

// destinationError turns an AWS SDK error into a DestinationError: the HTTP status,
// and the error code when it is a known one. The SDK's message is the service's
// free text, and the endpoint may be any host the tenant named.
func destinationError(verb string, err error) error {
	e := &DestinationError{Verb: verb}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) {
		e.Status = resp.HTTPStatusCode()
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && awsCodes[apiErr.ErrorCode()] {
		e.Code = apiErr.ErrorCode()
	}
	if e.Status == 0 {
		if e.Code != "" {
			e.Status = http.StatusBadRequest // a coded answer without a status: still an answer
		} else {
			e.Unreachable = unreachable(err)
		}
	}
	return e
}

// awsCodes are the CloudWatch Logs, S3 and STS error codes a status may name: what a
// user can act on (credentials, permissions, a missing bucket or group, throttling).
var awsCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true, "AuthorizationHeaderMalformed": true,
	"ExpiredToken": true, "ExpiredTokenException": true, "InvalidAccessKeyId": true,
	"InvalidClientTokenId": true, "SignatureDoesNotMatch": true, "UnrecognizedClientException": true,
	"RequestTimeTooSkewed": true, "InvalidIdentityToken": true, "RegionDisabledException": true,
	"NoSuchBucket": true, "PermanentRedirect": true, "InvalidBucketName": true, "InvalidRequest": true,
	"MalformedXML": true, "InvalidArgument": true, "OperationAborted": true, "SlowDown": true,
	"InternalError": true, "ServiceUnavailable": true,
	"ResourceNotFoundException": true, "InvalidParameterException": true, "LimitExceededException": true,
	"OperationAbortedException": true, "ServiceUnavailableException": true, "ThrottlingException": true,
	"Throttling": true, "ValidationException": true,
}
