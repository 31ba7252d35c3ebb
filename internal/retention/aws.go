package retention

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// roleSessionName shows in the destination account's CloudTrail who made the change.
const roleSessionName = "logplane-retention"

// awsConfig resolves an output's AWS identity the way its agent does: static keys from
// the output's Secrets, else the default chain (IRSA, EKS Pod Identity, instance
// profile), then roleArn assumed with externalId through stsEndpoint when set.
func awsConfig(ctx context.Context, a *v1.AWSAuth, secret SecretValue, httpClient aws.HTTPClient) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(a.Region), config.WithHTTPClient(httpClient)}
	if a.Credentials != nil {
		id, err := secret(ctx, a.Credentials.AccessKeyID)
		if err != nil {
			return aws.Config{}, err
		}
		key, err := secret(ctx, a.Credentials.SecretAccessKey)
		if err != nil {
			return aws.Config{}, err
		}
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, key, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("failed to load AWS configuration: %w", err)
	}
	if a.RoleArn != "" {
		client := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if a.StsEndpoint != nil {
				o.BaseEndpoint = aws.String(string(*a.StsEndpoint))
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, a.RoleArn, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = roleSessionName
			if a.ExternalID != "" {
				o.ExternalID = aws.String(a.ExternalID)
			}
		}))
	}
	return cfg, nil
}

// endpoint is the output's service endpoint override, or nil for AWS's own.
func endpoint(a *v1.AWSAuth) *string {
	if a.Endpoint == nil {
		return nil
	}
	return aws.String(string(*a.Endpoint))
}

// awsErrorCode is the service's error code (AccessDeniedException, ...), or "".
func awsErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
