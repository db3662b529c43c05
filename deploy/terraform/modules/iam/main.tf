# Least-privilege IAM for eventlake on AWS: one task role per process (api, consumer, batch,
# dashboard), the ECS task execution role, and MWAA's execution role.
#
# Each task role's actions are the AWS calls its process makes, and nothing else:
# tests/deploy/test_iam_policies.py runs each role's code against a recording moto server,
# maps the calls to IAM actions and fails when a policy here lacks one, grants one that is not
# called (outside its short, reasoned allow-list), or uses a wildcard action or resource.
# Keep the policies as aws_iam_policy_document data sources with literal action lists: the
# test reads them from this file (python-hcl2).

locals {
  glue_catalog_arn  = "arn:aws:glue:${var.region}:${var.account_id}:catalog"
  glue_database_arn = "arn:aws:glue:${var.region}:${var.account_id}:database/${var.glue_database_name}"
  # Every table of the lake's database: tables are created from the data contracts at run time.
  glue_tables_arn = "arn:aws:glue:${var.region}:${var.account_id}:table/${var.glue_database_name}/*"
  # No MWAA environment (airflow_mode = existing): the Airflow in use brings its own role.
  with_mwaa           = var.mwaa_source_bucket_arn != null
  mwaa_environment    = "arn:aws:airflow:${var.region}:${var.account_id}:environment/${var.mwaa_environment_name}"
  mwaa_log_groups_arn = "arn:aws:logs:${var.region}:${var.account_id}:log-group:airflow-${var.mwaa_environment_name}-*"
}

# --- trust ---------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    sid     = "EcsTasksOfThisAccount"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Only ECS tasks of this account (the confused-deputy guard).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

data "aws_iam_policy_document" "mwaa_trust" {
  statement {
    sid     = "Mwaa"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }
  }
}

# --- api: publishes to the streams, answers its health check -------------------------------

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "PublishToTheStreams"
    actions   = ["kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:PutRecords"]
    resources = var.stream_arns
  }

  statement {
    sid       = "EncryptRecordsForTheStreams"
    actions   = ["kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  # GET /api/v1/health lists the catalog's databases.
  statement {
    sid       = "HealthCheckTheCatalog"
    actions   = ["glue:GetDatabases"]
    resources = [local.glue_catalog_arn, local.glue_database_arn]
  }
}

# --- consumer: the streams into the lake (Glue catalog, Iceberg files on S3) --------------

data "aws_iam_policy_document" "consumer" {
  statement {
    sid = "ReadTheStreams"
    actions = [
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
      # After a split, a child shard forwards its sibling's keys to their owner.
      "kinesis:PutRecords",
    ]
    resources = var.stream_arns
  }

  statement {
    sid = "LakeCatalog"
    actions = [
      "glue:CreateDatabase",
      "glue:CreateTable",
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:UpdateTable",
    ]
    resources = [local.glue_catalog_arn, local.glue_database_arn, local.glue_tables_arn]
  }

  statement {
    sid       = "LakeFiles"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${var.lake_bucket_arn}/${var.lake_prefix}/*"]
  }

  statement {
    sid       = "ListTheLake"
    actions   = ["s3:ListBucket"]
    resources = [var.lake_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.lake_prefix}/*"]
    }
  }

  statement {
    sid       = "StreamAndLakeEncryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

# --- batch: the DAG tasks run as ECS tasks (ingest_data, process, catalog, compaction) ------

data "aws_iam_policy_document" "batch" {
  statement {
    sid = "PublishAndDrainTheStreams"
    actions = [
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
      "kinesis:PutRecords",
    ]
    resources = var.stream_arns
  }

  statement {
    sid = "LakeCatalog"
    actions = [
      "glue:CreateDatabase",
      "glue:CreateTable",
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:UpdateTable",
    ]
    resources = [local.glue_catalog_arn, local.glue_database_arn, local.glue_tables_arn]
  }

  statement {
    sid       = "LakeFiles"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${var.lake_bucket_arn}/${var.lake_prefix}/*"]
  }

  statement {
    sid       = "ListTheLake"
    actions   = ["s3:ListBucket"]
    resources = [var.lake_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.lake_prefix}/*"]
    }
  }

  # ingest_data reads the landing files and moves them under _done/ or _rejected/.
  statement {
    sid       = "LandingFiles"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${var.landing_bucket_arn}/${var.landing_prefix}/*"]
  }

  statement {
    sid       = "ListTheLanding"
    actions   = ["s3:ListBucket"]
    resources = [var.landing_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.landing_prefix}/*"]
    }
  }

  statement {
    sid       = "StreamAndLakeEncryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

# --- ECS task execution role: image pull, logs, secrets ------------------------------------

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }

  statement {
    sid       = "PullTheImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = var.ecr_repository_arns
  }

  statement {
    sid       = "TaskLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for arn in var.log_group_arns : "${arn}:log-stream:*"]
  }

  statement {
    sid       = "EcsSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(var.secret_arns)
  }

  statement {
    sid       = "SecretsKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

# --- MWAA's execution role: its own needs, and running the batch tasks on ECS --------------

data "aws_iam_policy_document" "mwaa_execution" {
  count = local.with_mwaa ? 1 : 0

  statement {
    sid       = "PublishMetrics"
    actions   = ["airflow:PublishMetrics"]
    resources = [local.mwaa_environment]
  }

  statement {
    sid       = "ReadTheSourceBucket"
    actions   = ["s3:GetBucketLocation", "s3:GetBucketPublicAccessBlock", "s3:GetBucketVersioning", "s3:ListBucket"]
    resources = [var.mwaa_source_bucket_arn]
  }

  statement {
    sid       = "ReadTheDags"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.mwaa_source_bucket_arn}/*"]
  }

  statement {
    sid       = "AccountPublicAccessBlock"
    actions   = ["s3:GetAccountPublicAccessBlock"]
    resources = ["*"] # an account-level setting: no resource ARN.
  }

  statement {
    sid = "AirflowLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:GetLogEvents",
      "logs:GetLogGroupFields",
      "logs:GetLogRecord",
      "logs:GetQueryResults",
      "logs:PutLogEvents",
    ]
    resources = [local.mwaa_log_groups_arn, "${local.mwaa_log_groups_arn}:log-stream:*"]
  }

  statement {
    sid       = "DescribeLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"] # DescribeLogGroups has no resource-level permissions.
  }

  statement {
    sid       = "AirflowMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions.
  }

  # Celery's queue lives in an account of MWAA's: its ARN's account is not ours.
  statement {
    sid = "CeleryQueue"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = ["arn:aws:sqs:${var.region}:*:airflow-celery-*"]
  }

  # The environment is encrypted with the deployment's key (the airflow module's kms_key): its
  # Celery queue, through SQS, and its source bucket, through S3.
  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["sqs.${var.region}.amazonaws.com", "s3.${var.region}.amazonaws.com"]
    }
  }

  # EcsRunTaskOperator: run the batch task definition (any revision) on the cluster.
  statement {
    sid       = "RunTheBatchTasks"
    actions   = ["ecs:RunTask"]
    resources = ["arn:aws:ecs:${var.region}:${var.account_id}:task-definition/${var.batch_task_definition_family}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.ecs_cluster_arn]
    }
  }

  # ... wait for them (DescribeTasks) and stop one whose Airflow task is killed (StopTask).
  statement {
    sid       = "FollowTheBatchTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["arn:aws:ecs:${var.region}:${var.account_id}:task/*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.ecs_cluster_arn]
    }
  }

  statement {
    sid       = "PassTheBatchRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.batch.arn, aws_iam_role.execution.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # The operator copies the ECS task's log into the Airflow task's log.
  statement {
    sid       = "ReadTheBatchLogs"
    actions   = ["logs:GetLogEvents"]
    resources = [for arn in var.log_group_arns : "${arn}:log-stream:*"]
  }
}

# --- roles ---------------------------------------------------------------------------------

resource "aws_iam_role" "api" {
  name               = "${var.name_prefix}-api"
  description        = "eventlake ingest API task: publishes to the streams."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "api" {
  name   = "eventlake-api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

resource "aws_iam_role" "consumer" {
  name               = "${var.name_prefix}-consumer"
  description        = "eventlake consumer task: the streams into the lake."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "consumer" {
  name   = "eventlake-consumer"
  role   = aws_iam_role.consumer.id
  policy = data.aws_iam_policy_document.consumer.json
}

resource "aws_iam_role" "batch" {
  name               = "${var.name_prefix}-batch"
  description        = "eventlake batch task: the DAG tasks run on ECS."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "batch" {
  name   = "eventlake-batch"
  role   = aws_iam_role.batch.id
  policy = data.aws_iam_policy_document.batch.json
}

# No policy: the dashboard reads Snowflake and the state database, never an AWS API.
resource "aws_iam_role" "dashboard" {
  name               = "${var.name_prefix}-dashboard"
  description        = "eventlake dashboard task: no AWS permissions."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-execution"
  description        = "ECS task execution role of eventlake's tasks: image pull, logs, secrets."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "execution" {
  name   = "eventlake-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "mwaa_execution" {
  count              = local.with_mwaa ? 1 : 0
  name               = "${var.name_prefix}-mwaa"
  description        = "Execution role of eventlake's MWAA environment."
  assume_role_policy = data.aws_iam_policy_document.mwaa_trust.json
}

resource "aws_iam_role_policy" "mwaa_execution" {
  count  = local.with_mwaa ? 1 : 0
  name   = "eventlake-mwaa"
  role   = aws_iam_role.mwaa_execution[0].id
  policy = data.aws_iam_policy_document.mwaa_execution[0].json
}
