output "log_group_names" {
  description = "Log group name per ECS role."
  value       = { for role, g in aws_cloudwatch_log_group.service : role => g.name }
}

output "log_group_arns" {
  description = "Log group ARN per ECS role."
  value       = { for role, g in aws_cloudwatch_log_group.service : role => g.arn }
}

output "alarm_topic_arn" {
  description = "The SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Every alarm's name."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.iterator_age : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.lag_growing : a.alarm_name],
    [
      aws_cloudwatch_metric_alarm.no_commit.alarm_name,
      aws_cloudwatch_metric_alarm.run_failed.alarm_name,
      aws_cloudwatch_metric_alarm.api_5xx_rate.alarm_name,
    ],
  )
}
