# --- where ---------------------------------------------------------------------------------

variable "region" {
  description = "The AWS region of the deployment."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource's name, and the streams' prefix (EVENTLAKE_STREAM__NAME_PREFIX); at most 20 characters (load balancer and target group names are short)."
  type        = string
  default     = "eventlake"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix)) && !endswith(var.name_prefix, "-")
    error_message = "name_prefix: 2-20 of a-z, 0-9 and -, starting with a letter, not ending with - (S3 bucket, ALB and IAM naming rules)."
  }
}

variable "environment" {
  description = "The environment's name (a tag on every resource)."
  type        = string
  default     = "example"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,32}$", var.environment))
    error_message = "environment: 1-32 letters, digits, _ or -."
  }
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "The existing VPC to deploy into."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets (two availability zones at least) for the tasks, RDS and MWAA; they reach AWS's APIs, ECR and Snowflake through a NAT gateway or VPC endpoints."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "private_subnet_ids: at least two subnet ids (subnet-...)."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets (two availability zones at least) for an internet-facing load balancer; unused when alb_internal."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2 && alltrue([for s in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "public_subnet_ids: at least two subnet ids (subnet-...)."
  }
}

# --- the image -----------------------------------------------------------------------------

variable "image_tag" {
  description = "The version tag of the image in this deployment's ECR repository (pushed by .github/workflows/image.yml on a v* tag). Its tags are immutable: a new version is a new tag, and a new tag is a new task definition revision."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a Docker tag naming a version, not latest (the repository's tags are immutable, and ECS would not notice a moved tag)."
  }
}

variable "image" {
  description = "A full image reference to run instead (REPOSITORY:TAG or REPOSITORY@sha256:DIGEST); null: the ECR repository with image_tag."
  type        = string
  default     = null

  validation {
    condition     = var.image == null || can(regex("^[a-z0-9][^\\s]*(:[a-zA-Z0-9_.-]+|@sha256:[0-9a-f]{64})$", var.image))
    error_message = "image must be REPOSITORY:TAG or REPOSITORY@sha256:DIGEST."
  }
}

variable "cpu_architecture" {
  description = "The image's architecture: X86_64 or ARM64 (Graviton, cheaper per vCPU)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "ecr_images_kept" {
  description = "Images the ECR repository keeps (older ones expire)."
  type        = number
  default     = 30

  validation {
    condition     = var.ecr_images_kept >= 1
    error_message = "ecr_images_kept must be at least 1."
  }
}

# --- the streams ---------------------------------------------------------------------------

variable "datasets" {
  description = "The datasets with a stream each; null: every data contract in src/eventlake/resources/contracts/."
  type        = list(string)
  default     = null
}

variable "stream_mode" {
  description = "Kinesis capacity: ON_DEMAND (pay per GB, scales itself) or PROVISIONED (shard_count shards per stream, pay per shard-hour)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards per stream with PROVISIONED (1 MB/s or 1,000 records/s in each); also the most consumers that can share a stream."
  type        = number
  default     = 2

  validation {
    condition     = var.shard_count >= 1 && var.shard_count <= 10000 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count must be a whole number from 1 to 10000."
  }
}

variable "stream_retention_hours" {
  description = "How long the streams keep a record (24-8760 h; beyond 24 h costs extra): how long the consumers may be down without losing events."
  type        = number
  default     = 168

  validation {
    condition     = var.stream_retention_hours >= 24 && var.stream_retention_hours <= 8760
    error_message = "stream_retention_hours must be between 24 and 8760."
  }
}

# --- the lake ------------------------------------------------------------------------------

variable "lake_bucket_name" {
  description = "The lake bucket's name; null: PREFIX-lake-ACCOUNT_ID."
  type        = string
  default     = null

  validation {
    condition     = var.lake_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,56}[a-z0-9]$", var.lake_bucket_name))
    error_message = "lake_bucket_name: 3-58 characters of a-z, 0-9, . and -."
  }
}

variable "dead_letter_expiration_days" {
  description = "Days a rejected landing file (landing/_rejected/) is kept."
  type        = number
  default     = 30

  validation {
    condition     = var.dead_letter_expiration_days >= 1
    error_message = "dead_letter_expiration_days must be at least 1."
  }
}

variable "noncurrent_expiration_days" {
  description = "Days deleted lake files (expired snapshots, orphans) are kept as noncurrent versions before they go for good."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_expiration_days >= 1
    error_message = "noncurrent_expiration_days must be at least 1."
  }
}

# --- the job-state database ----------------------------------------------------------------

variable "existing_database" {
  description = "An existing PostgreSQL to keep the job state in instead of a new RDS instance: host, port, database, username and a Secrets Manager secret ARN whose JSON key `password` holds the password. null: create RDS PostgreSQL."
  type = object({
    host                = string
    port                = optional(number, 5432)
    database            = string
    username            = string
    password_secret_arn = string
  })
  default = null

  validation {
    condition     = var.existing_database == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.existing_database.password_secret_arn))
    error_message = "existing_database.password_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "db_instance_class" {
  description = "The RDS instance class."
  type        = string
  default     = "db.t4g.small"

  validation {
    condition     = startswith(var.db_instance_class, "db.")
    error_message = "db_instance_class must be an RDS instance class (db.*)."
  }
}

variable "db_multi_az" {
  description = "A standby database in a second availability zone (twice the instance cost)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the database and the load balancer from deletion."
  type        = bool
  default     = true
}

# --- the services --------------------------------------------------------------------------

variable "certificate_arn" {
  description = "The ACM certificate (in this region) of the API's and the dashboard's HTTPS listeners."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "alb_internal" {
  description = "Put the load balancer in the private subnets (reached from the VPC or a VPN only)."
  type        = bool
  default     = false
}

variable "api_ingress_cidrs" {
  description = "Who may reach the API (HTTPS 443; 80 redirects)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.api_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "api_ingress_cidrs must be IPv4 CIDR blocks."
  }
}

variable "dashboard_ingress_cidrs" {
  description = "Who may reach the dashboard (HTTPS on port 8443). It has no login of its own: an office or VPN range, never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.dashboard_ingress_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "dashboard_ingress_cidrs must be IPv4 CIDR blocks, and not 0.0.0.0/0 (the dashboard has no login)."
  }
}

variable "waf_web_acl_arn" {
  description = "A WAFv2 web ACL to attach to the load balancer; null: none."
  type        = string
  default     = null

  validation {
    condition     = var.waf_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be a WAFv2 web ACL ARN."
  }
}

variable "api_count" {
  description = "API tasks (each runs 2 uvicorn workers)."
  type        = number
  default     = 2

  validation {
    condition     = var.api_count >= 1
    error_message = "api_count must be at least 1."
  }
}

variable "consumer_min_count" {
  description = "Consumer tasks at least."
  type        = number
  default     = 1

  validation {
    condition     = var.consumer_min_count >= 1
    error_message = "consumer_min_count must be at least 1."
  }
}

variable "consumer_max_count" {
  description = "Consumer tasks at most; with PROVISIONED streams also capped at shard_count (a consumer beyond that has no shard to read)."
  type        = number
  default     = 4

  validation {
    condition     = var.consumer_max_count >= 1 && var.consumer_max_count <= 100
    error_message = "consumer_max_count must be between 1 and 100."
  }
}

variable "consumer_target_iterator_age_seconds" {
  description = "The consumers scale out when the oldest unread record of a stream is older than this, and back in when they keep up."
  type        = number
  default     = 60

  validation {
    condition     = var.consumer_target_iterator_age_seconds >= 5
    error_message = "consumer_target_iterator_age_seconds must be at least 5."
  }
}

variable "extra_environment" {
  description = "More plain EVENTLAKE_* settings for every container (src/eventlake/config.py, docs/configuration.md). Never a password or a key."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.extra_environment) : !can(regex("(?i)(password|secret|api_keys|token|webhook)", name))])
    error_message = "extra_environment must not carry passwords, keys, tokens or webhooks: those are secrets."
  }
}

variable "snowflake" {
  description = "The prod warehouse (dbt, the gates and the dashboard on Snowflake): the SNOWFLAKE_* settings and a Secrets Manager secret ARN holding the password. null: DuckDB in each task's own ephemeral home, which the next task and the dashboard do not see: production needs Snowflake."
  type = object({
    account             = string
    user                = string
    role                = optional(string, "TRANSFORMER")
    warehouse           = optional(string, "TRANSFORMING")
    database            = optional(string, "EVENTLAKE")
    password_secret_arn = string
  })
  default = null

  validation {
    condition     = var.snowflake == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.snowflake.password_secret_arn))
    error_message = "snowflake.password_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "quality_webhook_secret_arn" {
  description = "A Secrets Manager secret holding the quality gates' Slack-compatible webhook URL (EVENTLAKE_QUALITY__WEBHOOK_URL); null: none."
  type        = string
  default     = null

  validation {
    condition     = var.quality_webhook_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.quality_webhook_secret_arn))
    error_message = "quality_webhook_secret_arn must be a Secrets Manager secret ARN."
  }
}

# --- monitoring ----------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Days the services' and Airflow's logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ..., 3653)."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses the alarms notify (through the SNS topic; each confirms by mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "iterator_age_alarm_seconds" {
  description = "Alarm when the consumers read records older than this for 5 minutes."
  type        = number
  default     = 300

  validation {
    condition     = var.iterator_age_alarm_seconds > 0
    error_message = "iterator_age_alarm_seconds must be positive."
  }
}

variable "no_commit_alarm_minutes" {
  description = "Alarm when no consumer committed to the lake for this many minutes (set it above the quietest stretch of your traffic)."
  type        = number
  default     = 15

  validation {
    condition     = var.no_commit_alarm_minutes >= 1 && var.no_commit_alarm_minutes <= 1440
    error_message = "no_commit_alarm_minutes must be between 1 and 1440."
  }
}

# --- Airflow -------------------------------------------------------------------------------

variable "airflow_mode" {
  description = "mwaa: an MWAA environment runs the DAGs; existing: your own Airflow does (set the output airflow_ecs_environment there)."
  type        = string
  default     = "mwaa"

  validation {
    condition     = contains(["mwaa", "existing"], var.airflow_mode)
    error_message = "airflow_mode must be mwaa or existing."
  }
}

variable "mwaa_environment_class" {
  description = "MWAA's environment class (mw1.micro, mw1.small, ...): the tasks run on ECS, so a small one suffices."
  type        = string
  default     = "mw1.small"

  validation {
    condition     = can(regex("^mw1\\.(micro|small|medium|large|xlarge|2xlarge)$", var.mwaa_environment_class))
    error_message = "mwaa_environment_class must be an MWAA class (mw1.micro ... mw1.2xlarge)."
  }
}
