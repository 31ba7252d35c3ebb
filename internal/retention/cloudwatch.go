package retention

// cloudWatchDays are the only retention values CloudWatch Logs accepts
// (PutRetentionPolicy's retentionInDays), ascending.
var cloudWatchDays = []Days{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// CloudWatchRetention rounds requested up to the next value CloudWatch Logs accepts,
// so the group never keeps logs for less than the policy asks. Beyond the longest
// value (10 years) only "never expire" keeps them long enough.
func CloudWatchRetention(requested Days) Days {
	if requested == Forever {
		return Forever
	}
	for _, d := range cloudWatchDays {
		if d >= requested {
			return d
		}
	}
	return Forever
}
