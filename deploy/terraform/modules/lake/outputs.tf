output "bucket_name" {
  description = "The lake bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "bucket_arn" {
  description = "The lake bucket's ARN."
  value       = aws_s3_bucket.lake.arn
}

output "warehouse_uri" {
  description = "EVENTLAKE_LAKE__CATALOG__WAREHOUSE."
  value       = "s3://${aws_s3_bucket.lake.bucket}/${var.warehouse_prefix}"
}

output "warehouse_prefix" {
  description = "The warehouse prefix in the bucket."
  value       = var.warehouse_prefix
}

output "landing_uri" {
  description = "EVENTLAKE_LANDING_URI."
  value       = "s3://${aws_s3_bucket.lake.bucket}/${var.landing_prefix}"
}

output "landing_prefix" {
  description = "The landing prefix in the bucket."
  value       = var.landing_prefix
}

output "glue_database_name" {
  description = "The Glue database (the app's namespace)."
  value       = aws_glue_catalog_database.lake.name
}

output "logs_bucket_name" {
  description = "The access-log bucket (S3 server access logs under s3/, the load balancer's under alb/)."
  value       = aws_s3_bucket.logs.bucket
}

output "region" {
  description = "The region of the bucket and the Glue catalog."
  value       = data.aws_region.current.region
}

output "partition" {
  description = "The AWS partition (aws, aws-cn, aws-us-gov)."
  value       = data.aws_partition.current.partition
}
