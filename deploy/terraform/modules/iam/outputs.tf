output "api_task_role_arn" {
  description = "Task role of the ingest API service."
  value       = aws_iam_role.api.arn
}

output "consumer_task_role_arn" {
  description = "Task role of the consumer service."
  value       = aws_iam_role.consumer.arn
}

output "batch_task_role_arn" {
  description = "Task role of the batch task definition (the DAG tasks MWAA runs on ECS)."
  value       = aws_iam_role.batch.arn
}

output "dashboard_task_role_arn" {
  description = "Task role of the dashboard service (no AWS permissions: it reads Snowflake and the state database)."
  value       = aws_iam_role.dashboard.arn
}

output "execution_role_arn" {
  description = "ECS task execution role of every task definition (image pull, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "mwaa_execution_role_arn" {
  description = "Execution role of the MWAA environment."
  value       = local.with_mwaa ? aws_iam_role.mwaa_execution[0].arn : null
}
