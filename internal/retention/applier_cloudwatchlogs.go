package retention

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// cloudWatchLogs sets the retention of the output's log group.
type cloudWatchLogs struct {
	client     *cloudwatchlogs.Client
	group      string
	autoCreate bool
	// missing is what Current found, for Apply to create the group.
	missing bool
}

func newCloudWatchLogs(ctx context.Context, t Target, secret SecretValue) (Applier, error) {
	c := t.Spec.CloudWatchLogs
	httpClient, err := newAWSHTTPClient(ctx, t.Spec.TLS, secret)
	if err != nil {
		return nil, err
	}
	cfg, err := awsConfig(ctx, &c.AWS, secret, httpClient)
	if err != nil {
		return nil, err
	}
	client := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = endpoint(&c.AWS) })
	return &cloudWatchLogs{client: client, group: c.LogGroupName, autoCreate: c.AutoCreateGroup}, nil
}

// Current finds the group by its exact name among those sharing its prefix.
func (c *cloudWatchLogs) Current(ctx context.Context) (Observed, error) {
	pages := cloudwatchlogs.NewDescribeLogGroupsPaginator(c.client, &cloudwatchlogs.DescribeLogGroupsInput{
		LogGroupNamePrefix: aws.String(c.group)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return Observed{}, destinationError("describe log group "+c.group, err)
		}
		for _, g := range page.LogGroups {
			if aws.ToString(g.LogGroupName) != c.group {
				continue
			}
			if g.RetentionInDays == nil {
				return Observed{Days: Forever}, nil
			}
			return Observed{Days: Days(*g.RetentionInDays)}, nil
		}
	}
	if !c.autoCreate {
		return Observed{}, fmt.Errorf("log group %s does not exist, and autoCreateGroup is off: create the group, or set autoCreateGroup", c.group)
	}
	// A group that does not exist keeps nothing: creating it is not a shortening.
	c.missing = true
	return Observed{Days: Forever, Empty: true}, nil
}

func (c *cloudWatchLogs) Apply(ctx context.Context, days Days) error {
	if c.missing {
		_, err := c.client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(c.group)})
		// The agent may have created it since Current looked.
		if err != nil && awsErrorCode(err) != "ResourceAlreadyExistsException" {
			return destinationError("create log group "+c.group, err)
		}
	}
	if days == Forever {
		if _, err := c.client.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String(c.group)}); err != nil {
			return destinationError("remove the retention of log group "+c.group, err)
		}
		return nil
	}
	if _, err := c.client.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{
		LogGroupName: aws.String(c.group), RetentionInDays: aws.Int32(int32(days))}); err != nil {
		return destinationError("set the retention of log group "+c.group, err)
	}
	return nil
}
