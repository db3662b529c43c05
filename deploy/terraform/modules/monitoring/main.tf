# The services' log groups, the alarms the README's monitoring section recommends, and the
# SNS topic they notify.
#
# Two alarms count log lines, so they depend on what the code prints (keep them in step):
# - a lake commit: `eventlake consume` prints one line per commit (cli/consume.py, `show`):
#   "DATASET: N records, N events → N landed, N rejected, N duplicates in S s (snapshot ID)";
#   a batch already in the lake says "(already in the lake)" instead and is not counted.
#   One line only because the task definitions set COLUMNS (Rich wraps at 80 otherwise).
# - a failed pipeline run: the API logs "pipeline run ID (NAME) failed" (pipeline/runs.py)
#   for a run it ran itself, and a failed `eventlake task` (the Airflow tasks on ECS) ends
#   with "Error: TASK failed: ..." or "Error: TASK could not run: ..." on stderr (cli/common.py
#   `fail`); an uncaught exception prints a Traceback.

locals {
  log_groups = {
    for role in var.roles : role => "/${var.name_prefix}/ecs/${role}"
  }
  alarm_actions    = [aws_sns_topic.alarms.arn]
  metric_namespace = "eventlake/${var.name_prefix}"
}

resource "aws_cloudwatch_log_group" "service" {
  for_each          = local.log_groups
  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- the stream: consumers behind, or not reading at all --------------------------------

# How far behind the newest record the consumers read, per stream. GetRecords is called
# even when a stream is idle, so no data at all means no consumer is reading: breaching.
resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  for_each = var.stream_names

  alarm_name          = "${var.name_prefix}-${each.key}-iterator-age"
  alarm_description   = "The consumers of ${each.value} read records older than ${var.iterator_age_threshold_seconds} s (or nobody reads it)."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.iterator_age_threshold_seconds * 1000
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# Lag that keeps growing: the iterator age rising minute after minute (RATE is in ms per
# second; 1000 would mean nothing is consumed at all), however small it still is.
resource "aws_cloudwatch_metric_alarm" "lag_growing" {
  for_each = var.stream_names

  alarm_name          = "${var.name_prefix}-${each.key}-consumer-lag-growing"
  alarm_description   = "The consumers of ${each.value} fall further behind every minute for ${var.lag_growing_minutes} minutes."
  evaluation_periods  = var.lag_growing_minutes
  datapoints_to_alarm = var.lag_growing_minutes
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.lag_growth_ms_per_second
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "growth"
    expression  = "RATE(age)"
    label       = "iterator age growth (ms/s)"
    return_data = true
  }
  metric_query {
    id          = "age"
    return_data = false
    metric {
      namespace   = "AWS/Kinesis"
      metric_name = "GetRecords.IteratorAgeMilliseconds"
      dimensions  = { StreamName = each.value }
      stat        = "Maximum"
      period      = 60
    }
  }
}

# --- the lake: no commit for N minutes ---------------------------------------------------

resource "aws_cloudwatch_log_metric_filter" "lake_commits" {
  name           = "${var.name_prefix}-lake-commits"
  log_group_name = aws_cloudwatch_log_group.service["consumer"].name
  pattern        = "\"landed,\" \"(snapshot\""

  metric_transformation {
    name          = "LakeCommits"
    namespace     = local.metric_namespace
    value         = "1"
    default_value = "0"
  }
}

# For a stream with steady traffic: an idle stream has no commits either (and alarms too).
resource "aws_cloudwatch_metric_alarm" "no_commit" {
  alarm_name          = "${var.name_prefix}-no-lake-commit"
  alarm_description   = "No consumer committed to the lake for ${var.no_commit_minutes} minutes."
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.lake_commits.metric_transformation[0].name
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.no_commit_minutes
  datapoints_to_alarm = var.no_commit_minutes
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  # No log line at all (no consumer running) is no commit.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = var.tags
}

# --- pipeline runs: the last one failed -------------------------------------------------

resource "aws_cloudwatch_log_metric_filter" "runs_failed_api" {
  name           = "${var.name_prefix}-runs-failed-api"
  log_group_name = aws_cloudwatch_log_group.service["api"].name
  pattern        = "\"pipeline run\" \"failed\""

  metric_transformation {
    name          = "PipelineRunsFailed"
    namespace     = local.metric_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_log_metric_filter" "runs_failed_batch" {
  name           = "${var.name_prefix}-runs-failed-batch"
  log_group_name = aws_cloudwatch_log_group.service["batch"].name
  pattern        = "?\"Error:\" ?Traceback"

  metric_transformation {
    name          = "PipelineRunsFailed"
    namespace     = local.metric_namespace
    value         = "1"
    default_value = "0"
  }
}

# In alarm while a run failed within the period; back to OK after a period without failures
# (the Airflow UI or GET /api/v1/status/RUN_ID say which run and why).
resource "aws_cloudwatch_metric_alarm" "run_failed" {
  alarm_name          = "${var.name_prefix}-pipeline-run-failed"
  alarm_description   = "A pipeline run (or an Airflow task on ECS) failed in the last ${var.run_failed_period_minutes} minutes."
  namespace           = local.metric_namespace
  metric_name         = "PipelineRunsFailed"
  statistic           = "Sum"
  period              = var.run_failed_period_minutes * 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  depends_on = [
    aws_cloudwatch_log_metric_filter.runs_failed_api,
    aws_cloudwatch_log_metric_filter.runs_failed_batch,
  ]
}

# --- the API: 5xx rate --------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${var.name_prefix}-api-5xx-rate"
  alarm_description   = "More than ${var.api_5xx_rate_percent}% of the API's requests answered 5xx (by the API or the load balancer) for 5 minutes."
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
    label       = "5xx answers (%)"
    return_data = true
  }
  metric_query {
    id          = "requests"
    return_data = false
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.api_target_group_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }
  metric_query {
    id          = "target5xx"
    return_data = false
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.api_target_group_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }
  metric_query {
    id          = "elb5xx"
    return_data = false
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }
}
