output "stream_names" {
  description = "Stream name per dataset."
  value       = { for d, s in aws_kinesis_stream.dataset : d => s.name }
}

output "stream_arns" {
  description = "Stream ARN per dataset."
  value       = { for d, s in aws_kinesis_stream.dataset : d => s.arn }
}

output "shard_count" {
  description = "Shards per stream in PROVISIONED mode, null on demand (bounds the consumers' autoscaling)."
  value       = var.stream_mode == "PROVISIONED" ? var.shard_count : null
}
