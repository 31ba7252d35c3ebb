package retention

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// s3Lifecycle owns one expiration rule, scoped to the output's key prefix, in the
// bucket's lifecycle configuration; every other rule is written back as it was read.
type s3Lifecycle struct {
	client         *s3.Client
	bucket, prefix string
	id             string
	// read is the configuration Current found, for Apply to modify and write.
	rules   []s3types.LifecycleRule
	minSize s3types.TransitionDefaultMinimumObjectSize
}

func newS3(ctx context.Context, t Target, secret SecretValue) (Applier, error) {
	o := t.Spec.S3
	httpClient, err := newAWSHTTPClient(ctx, t.Spec.TLS, secret)
	if err != nil {
		return nil, err
	}
	cfg, err := awsConfig(ctx, &o.AWS, secret, httpClient)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, func(opts *s3.Options) {
		opts.BaseEndpoint = endpoint(&o.AWS)
		// S3-compatible stores behind an endpoint override (MinIO, Ceph) rarely serve
		// virtual-hosted buckets; AWS's own endpoints serve both.
		opts.UsePathStyle = o.AWS.Endpoint != nil
	})
	return &s3Lifecycle{client: client, bucket: o.Bucket, prefix: S3Prefix(o.KeyFormat), id: t.OwnedName()}, nil
}

func (a *s3Lifecycle) Current(ctx context.Context) (Observed, error) {
	out, err := a.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(a.bucket)})
	switch {
	case awsErrorCode(err) == "NoSuchLifecycleConfiguration":
		a.rules = nil
	case err != nil:
		return Observed{}, destinationError("read the lifecycle configuration of bucket "+a.bucket, err)
	default:
		a.rules, a.minSize = out.Rules, out.TransitionDefaultMinimumObjectSize
	}
	obs := Observed{Days: S3Current(a.rules, a.id)}
	for _, r := range a.rules {
		if aws.ToString(r.ID) == a.id {
			obs.Stale = r.Filter == nil || aws.ToString(r.Filter.Prefix) != a.prefix
		}
	}
	return obs, nil
}

// Conflict names the rules of the bucket, read by Current, that logplane's rule for
// days would cut short.
func (a *s3Lifecycle) Conflict(days Days) string {
	if c := S3Conflicts(a.rules, a.id, a.prefix, days); len(c) > 0 {
		return S3ConflictMessage(a.bucket, a.id, a.prefix, days, c)
	}
	return ""
}

// Apply writes the configuration Current read, with logplane's rule set. S3 offers no
// conditional write here, so a rule another tool adds between the read and the write
// is lost; the window is one round trip, and the periodic re-apply never removes rules.
func (a *s3Lifecycle) Apply(ctx context.Context, days Days) error {
	rules := S3Rules(a.rules, a.id, a.prefix, days)
	if len(rules) == 0 {
		// S3 refuses an empty configuration: removing the last rule deletes it.
		if _, err := a.client.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String(a.bucket)}); err != nil {
			return destinationError("delete the lifecycle configuration of bucket "+a.bucket, err)
		}
		return nil
	}
	_, err := a.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                             aws.String(a.bucket),
		LifecycleConfiguration:             &s3types.BucketLifecycleConfiguration{Rules: rules},
		TransitionDefaultMinimumObjectSize: a.minSize,
	})
	if err != nil {
		return destinationError("write the lifecycle configuration of bucket "+a.bucket, err)
	}
	return nil
}

// Remove takes logplane's rule out of the bucket's lifecycle configuration, every
// other rule written back as it was; a bucket without the rule (or without a
// configuration, or gone) is left as it is.
func (a *s3Lifecycle) Remove(ctx context.Context) error {
	out, err := a.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(a.bucket)})
	switch code := awsErrorCode(err); {
	case code == "NoSuchLifecycleConfiguration" || code == "NoSuchBucket":
		return nil
	case err != nil:
		return destinationError("read the lifecycle configuration of bucket "+a.bucket, err)
	}
	a.rules, a.minSize = out.Rules, out.TransitionDefaultMinimumObjectSize
	if !slices.ContainsFunc(a.rules, func(r s3types.LifecycleRule) bool { return aws.ToString(r.ID) == a.id }) {
		return nil
	}
	return a.Apply(ctx, Forever)
}
