# Airflow for the DAGs (dags/): an MWAA environment whose tasks run as ECS tasks of the image
# (EVENTLAKE_AIRFLOW_TASKS=ecs, dags/app_env.py), with the DAG files, a requirements file and
# a startup script (exporting the EVENTLAKE_ECS_* variables) in its own S3 bucket.
# airflow_mode = "existing": none of it; the outputs give the variables to set on your own
# Airflow (which needs the Amazon provider and a role that may run the batch task).

data "aws_caller_identity" "current" {}

locals {
  create = var.airflow_mode == "mwaa"
  # MWAA requires its bucket's name to start with "airflow-".
  bucket_name = "airflow-${var.name_prefix}-${data.aws_caller_identity.current.account_id}"

  # What dags/app_env.py reads (EcsTarget): the same values for MWAA and an existing Airflow.
  ecs_environment = {
    EVENTLAKE_AIRFLOW_TASKS         = "ecs"
    EVENTLAKE_ECS_CLUSTER           = var.ecs_cluster_name
    EVENTLAKE_ECS_TASK_DEFINITION   = var.batch_task_definition_family
    EVENTLAKE_ECS_CONTAINER         = var.container_name
    EVENTLAKE_ECS_SUBNETS           = join(",", var.private_subnet_ids)
    EVENTLAKE_ECS_SECURITY_GROUPS   = join(",", var.batch_security_group_ids)
    EVENTLAKE_ECS_LOG_GROUP         = var.batch_log_group_name
    EVENTLAKE_ECS_LOG_STREAM_PREFIX = var.batch_log_stream_prefix
  }

  # The DAG files (not their caches); app_env.py is listed in .airflowignore, not a DAG.
  dag_files = local.create ? toset([
    for f in fileset(var.dags_dir, "**") : f
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
  ]) : toset([])

  mwaa_log_types = ["DAGProcessing", "Scheduler", "Task", "WebServer", "Worker"]
}

resource "aws_s3_bucket" "dags" {
  #checkov:skip=CKV_AWS_144: the DAG files are in git and uploaded by Terraform: a replica adds nothing
  #checkov:skip=CKV2_AWS_62: MWAA polls the bucket itself; nothing else reacts to its objects
  count  = local.create ? 1 : 0
  bucket = local.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "dags" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.dags[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# MWAA requires versioning (it reads the requirements and the startup script by version).
resource "aws_s3_bucket_versioning" "dags" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.dags[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "dags" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.dags[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

# MWAA requires the public access block.
resource "aws_s3_bucket_public_access_block" "dags" {
  count                   = local.create ? 1 : 0
  bucket                  = aws_s3_bucket.dags[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_logging" "dags" {
  count         = local.create ? 1 : 0
  bucket        = aws_s3_bucket.dags[0].id
  target_bucket = var.access_logs_bucket
  target_prefix = "s3/${local.bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "dags" {
  count      = local.create ? 1 : 0
  bucket     = aws_s3_bucket.dags[0].id
  depends_on = [aws_s3_bucket_versioning.dags]

  rule {
    id     = "old-dag-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}

data "aws_iam_policy_document" "dags_tls_only" {
  count = local.create ? 1 : 0
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.dags[0].arn, "${aws_s3_bucket.dags[0].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "dags" {
  count      = local.create ? 1 : 0
  bucket     = aws_s3_bucket.dags[0].id
  policy     = data.aws_iam_policy_document.dags_tls_only[0].json
  depends_on = [aws_s3_bucket_public_access_block.dags]
}

resource "aws_s3_object" "dag" {
  for_each = local.dag_files

  bucket      = aws_s3_bucket.dags[0].id
  key         = "dags/${each.value}"
  source      = "${var.dags_dir}/${each.value}"
  source_hash = filemd5("${var.dags_dir}/${each.value}")
}

resource "aws_s3_object" "requirements" {
  count   = local.create ? 1 : 0
  bucket  = aws_s3_bucket.dags[0].id
  key     = "requirements.txt"
  content = var.requirements
}

resource "aws_s3_object" "startup" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.dags[0].id
  key    = "startup.sh"
  content = join("\n", concat(
    ["#!/bin/sh", "# Written by Terraform (modules/airflow): where dags/app_env.py runs the tasks."],
    [for name, value in local.ecs_environment : "export ${name}='${value}'"],
    [""],
  ))
}

# MWAA writes to airflow-NAME-TYPE; made here first, to set their retention and key.
resource "aws_cloudwatch_log_group" "mwaa" {
  for_each          = local.create ? toset(local.mwaa_log_types) : toset([])
  name              = "airflow-${var.environment_name}-${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_security_group" "mwaa" {
  count       = local.create ? 1 : 0
  name        = "${var.name_prefix}-mwaa"
  description = "eventlake MWAA: its own components among themselves, HTTPS out"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

# MWAA requires a rule letting its components (web server, scheduler, workers, the
# metadata database endpoint) reach one another.
resource "aws_vpc_security_group_ingress_rule" "mwaa_self" {
  count                        = local.create ? 1 : 0
  security_group_id            = aws_security_group.mwaa[0].id
  description                  = "MWAA components among themselves"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.mwaa[0].id
}

resource "aws_vpc_security_group_egress_rule" "mwaa_self" {
  count                        = local.create ? 1 : 0
  security_group_id            = aws_security_group.mwaa[0].id
  description                  = "MWAA components among themselves"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.mwaa[0].id
}

resource "aws_vpc_security_group_egress_rule" "mwaa_https" {
  count             = local.create ? 1 : 0
  security_group_id = aws_security_group.mwaa[0].id
  description       = "HTTPS: ECS RunTask, CloudWatch Logs, S3, SQS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_mwaa_environment" "this" {
  count = local.create ? 1 : 0

  name               = var.environment_name
  airflow_version    = var.airflow_version
  environment_class  = var.environment_class
  min_workers        = var.min_workers
  max_workers        = var.max_workers
  execution_role_arn = var.execution_role_arn
  kms_key            = var.kms_key_arn

  source_bucket_arn                = aws_s3_bucket.dags[0].arn
  dag_s3_path                      = "dags/"
  requirements_s3_path             = aws_s3_object.requirements[0].key
  requirements_s3_object_version   = aws_s3_object.requirements[0].version_id
  startup_script_s3_path           = aws_s3_object.startup[0].key
  startup_script_s3_object_version = aws_s3_object.startup[0].version_id

  webserver_access_mode = var.webserver_access_mode

  network_configuration {
    security_group_ids = [aws_security_group.mwaa[0].id]
    # MWAA takes exactly two private subnets.
    subnet_ids = slice(var.private_subnet_ids, 0, 2)
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = "INFO"
    }
    scheduler_logs {
      enabled   = true
      log_level = "INFO"
    }
    task_logs {
      enabled   = true
      log_level = "INFO"
    }
    webserver_logs {
      enabled   = true
      log_level = "WARNING"
    }
    worker_logs {
      enabled   = true
      log_level = "WARNING"
    }
  }

  depends_on = [aws_s3_object.dag, aws_cloudwatch_log_group.mwaa, aws_s3_bucket_policy.dags]
  tags       = var.tags
}
