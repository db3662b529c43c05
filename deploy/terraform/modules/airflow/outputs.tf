output "webserver_url" {
  description = "The Airflow UI (MWAA); null with airflow_mode = existing."
  value       = local.create ? "https://${aws_mwaa_environment.this[0].webserver_url}" : null
}

output "source_bucket_arn" {
  description = "MWAA's bucket (DAGs, requirements, startup script); null with airflow_mode = existing."
  value       = local.create ? aws_s3_bucket.dags[0].arn : null
}

output "source_bucket_name" {
  description = "MWAA's bucket name; null with airflow_mode = existing."
  value       = local.create ? aws_s3_bucket.dags[0].bucket : null
}

output "ecs_environment" {
  description = "The variables dags/app_env.py reads to run the tasks on ECS (MWAA gets them from its startup script)."
  value       = local.ecs_environment
}
