variable "name_prefix" {
  description = "Prefix of every role's name (e.g. \"eventlake-prod\")."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix: 1-40 characters allowed in IAM role names."
  }
}

variable "stream_arns" {
  description = "ARNs of the Kinesis streams (one per dataset) the API publishes to and the consumers and batch tasks read."
  type        = list(string)

  validation {
    condition     = length(var.stream_arns) > 0 && alltrue([for arn in var.stream_arns : can(regex("^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream/[a-zA-Z0-9_.-]+$", arn))])
    error_message = "stream_arns: at least one, each a Kinesis stream ARN (no wildcards)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the streams and the buckets (and the secrets)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn: a KMS key ARN (not an alias)."
  }
}

variable "lake_bucket_arn" {
  description = "ARN of the lake's S3 bucket (the Iceberg warehouse)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}$", var.lake_bucket_arn))
    error_message = "lake_bucket_arn: an S3 bucket ARN."
  }
}

variable "lake_prefix" {
  description = "The warehouse prefix in the lake bucket (EVENTLAKE_LAKE__CATALOG__WAREHOUSE is s3://BUCKET/PREFIX), e.g. \"lake\"."
  type        = string
  default     = "lake"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$", var.lake_prefix))
    error_message = "lake_prefix: a non-empty key prefix without leading or trailing slashes or wildcards."
  }
}

variable "landing_bucket_arn" {
  description = "ARN of the S3 bucket of the landing prefix that the ingest_data task reads (EVENTLAKE_LANDING_URI); may be the lake bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}$", var.landing_bucket_arn))
    error_message = "landing_bucket_arn: an S3 bucket ARN."
  }
}

variable "landing_prefix" {
  description = "The landing prefix in the landing bucket, e.g. \"landing\": files are read there and moved under its _done/ and _rejected/."
  type        = string
  default     = "landing"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$", var.landing_prefix))
    error_message = "landing_prefix: a non-empty key prefix without leading or trailing slashes or wildcards."
  }
}

variable "glue_database_name" {
  description = "The Glue database of the lake's tables (EVENTLAKE_LAKE__NAMESPACE)."
  type        = string

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,127}$", var.glue_database_name))
    error_message = "glue_database_name: lower-case letters, digits and underscores (eventlake's namespace rule)."
  }
}

variable "region" {
  description = "The AWS region of the deployment (Glue catalog and log ARNs)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region: an AWS region name such as eu-west-1."
  }
}

variable "account_id" {
  description = "The AWS account id of the deployment."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id: 12 digits."
  }
}

variable "secret_arns" {
  description = "Secrets Manager secrets the containers get as ECS secrets, by name (e.g. the RDS master secret, the API keys); the execution role reads them."
  type        = map(string)

  validation {
    condition     = alltrue([for arn in values(var.secret_arns) : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[a-zA-Z0-9/_+=.@!-]+$", arn))])
    error_message = "secret_arns: Secrets Manager secret ARNs (without wildcards or JSON keys; RDS-managed names start with rds!)."
  }
}

variable "log_group_arns" {
  description = "CloudWatch log groups the ECS tasks log to (the awslogs driver); MWAA reads the batch tasks' logs from them."
  type        = list(string)

  validation {
    condition     = length(var.log_group_arns) > 0 && alltrue([for arn in var.log_group_arns : can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:[a-zA-Z0-9_/.#-]+$", arn))])
    error_message = "log_group_arns: at least one, each a log group ARN without a trailing :*."
  }
}

variable "ecs_cluster_arn" {
  description = "The ECS cluster MWAA runs the batch tasks on."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[a-zA-Z0-9_-]+$", var.ecs_cluster_arn))
    error_message = "ecs_cluster_arn: an ECS cluster ARN."
  }
}

variable "batch_task_definition_family" {
  description = "The family of the batch task definition (`eventlake task <name>`) MWAA may run, any revision."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.batch_task_definition_family))
    error_message = "batch_task_definition_family: a task definition family name."
  }
}

variable "mwaa_source_bucket_arn" {
  description = "The MWAA environment's S3 bucket (DAGs, requirements, startup script); null when there is no MWAA environment (airflow_mode = existing): then no MWAA role is made."
  type        = string
  default     = null

  validation {
    condition     = var.mwaa_source_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}$", var.mwaa_source_bucket_arn))
    error_message = "mwaa_source_bucket_arn: an S3 bucket ARN, or null."
  }
}

variable "mwaa_environment_name" {
  description = "The MWAA environment's name (its metrics and its airflow-NAME-* log groups)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][0-9a-zA-Z_-]{0,79}$", var.mwaa_environment_name))
    error_message = "mwaa_environment_name: MWAA's naming rule (a letter, then up to 79 letters, digits, - or _)."
  }
}

variable "ecr_repository_arns" {
  description = "The ECR repositories the task execution role pulls the image from (added to the agreed interface: without it the pull would need every repository)."
  type        = list(string)

  validation {
    condition     = length(var.ecr_repository_arns) > 0 && alltrue([for arn in var.ecr_repository_arns : can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+$", arn))])
    error_message = "ecr_repository_arns: at least one, each an ECR repository ARN."
  }
}
