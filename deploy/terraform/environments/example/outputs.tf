output "api_url" {
  description = "The ingest API (POST /api/v1/ingest/..., GET /api/v1/health); point your certificate's DNS name at alb_dns_name."
  value       = module.services.api_url
}

output "dashboard_url" {
  description = "The dashboard (from dashboard_ingress_cidrs only)."
  value       = module.services.dashboard_url
}

output "alb_dns_name" {
  description = "The load balancer's DNS name: the target of your certificate's DNS record."
  value       = module.services.alb_dns_name
}

output "stream_names" {
  description = "The Kinesis stream per dataset."
  value       = module.stream.stream_names
}

output "lake_bucket" {
  description = "The lake bucket (Iceberg warehouse under lake/, landing files under landing/)."
  value       = module.lake.bucket_name
}

output "logs_bucket" {
  description = "The access-log bucket."
  value       = module.lake.logs_bucket_name
}

output "landing_uri" {
  description = "Where to drop files for the pipeline's ingest_data task."
  value       = module.lake.landing_uri
}

output "glue_database" {
  description = "The Glue database of the lake's Iceberg tables (the Snowflake catalog integration points here)."
  value       = module.lake.glue_database_name
}

output "rds_endpoint" {
  description = "The job-state database (host:port)."
  value       = module.database.endpoint
}

output "ecr_repository_url" {
  description = "Push the image here (.github/workflows/image.yml does on a tag)."
  value       = aws_ecr_repository.eventlake.repository_url
}

output "image" {
  description = "The image the tasks run."
  value       = local.image
}

output "api_keys_secret_arn" {
  description = "Put the API keys here (name:key[,name:key]): aws secretsmanager put-secret-value --secret-id ARN --secret-string ..."
  value       = aws_secretsmanager_secret.api_keys.arn
}

output "ecs_cluster" {
  description = "The ECS cluster."
  value       = module.services.cluster_name
}

output "mwaa_webserver_url" {
  description = "The Airflow UI (MWAA); null with airflow_mode = existing."
  value       = module.airflow.webserver_url
}

output "mwaa_bucket" {
  description = "MWAA's bucket (dags/, requirements.txt, startup.sh); null with airflow_mode = existing."
  value       = module.airflow.source_bucket_name
}

output "airflow_ecs_environment" {
  description = "The variables dags/app_env.py reads to run the tasks on ECS: set them on an existing Airflow (MWAA gets them from startup.sh)."
  value       = module.airflow.ecs_environment
}

output "alarm_topic_arn" {
  description = "The SNS topic of the alarms: subscribe a pager or chat to it."
  value       = module.monitoring.alarm_topic_arn
}
