# One Kinesis data stream per dataset (the data contracts), named as the app names them:
# EVENTLAKE_STREAM__NAME_PREFIX + "-" + dataset (StreamSettings.stream_name).

resource "aws_kinesis_stream" "dataset" {
  for_each = toset(var.datasets)

  name             = "${var.name_prefix}-${each.key}"
  retention_period = var.retention_hours
  # Only a provisioned stream has a shard count; on-demand scales its own.
  shard_count = var.stream_mode == "PROVISIONED" ? var.shard_count : null

  # The consumers are the only readers of a stream; shard-level metrics would add cost and
  # the alarms and the autoscaling use the stream-level iterator age.
  shard_level_metrics = []

  encryption_type = "KMS"
  kms_key_id      = var.kms_key_arn

  stream_mode_details {
    stream_mode = var.stream_mode
  }

  tags = merge(var.tags, { Dataset = each.key })
}
