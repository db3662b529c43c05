variable "name_prefix" {
  description = "Prefix of the services, task definitions, load balancer and security groups (at most 20 characters: load balancer names are short)."
  type        = string
}

variable "cluster_name" {
  description = "The ECS cluster's name."
  type        = string
}

variable "region" {
  description = "The AWS region (the awslogs driver and AWS_DEFAULT_REGION)."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks (and of an internal load balancer); they reach AWS's APIs through a NAT gateway or VPC endpoints."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Subnets of an internet-facing load balancer."
  type        = list(string)
}

variable "image" {
  description = "The eventlake image, REPOSITORY:TAG or REPOSITORY@sha256:DIGEST."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64: the image's architecture."
  type        = string
  default     = "X86_64"
}

variable "environment" {
  description = "Plain EVENTLAKE_* settings for every container. Never a password or a key: those are secrets."
  type        = map(string)

  validation {
    condition     = alltrue([for name in keys(var.environment) : !can(regex("(?i)(password|secret|api_keys|token|webhook)", name))])
    error_message = "environment must not carry passwords, keys, tokens or webhooks: pass them as secrets (Secrets Manager ARNs)."
  }
}

variable "database_password_secret_arn" {
  description = "The Secrets Manager secret whose JSON key `password` is the state database's password (PGPASSWORD)."
  type        = string
}

variable "api_keys_secret_arn" {
  description = "The Secrets Manager secret holding EVENTLAKE_API_KEYS (name:key[,name:key])."
  type        = string
}

variable "snowflake_password_secret_arn" {
  description = "The Secrets Manager secret holding SNOWFLAKE_PASSWORD, for the prod warehouse; null: none."
  type        = string
  default     = null
}

variable "quality_webhook_secret_arn" {
  description = "The Secrets Manager secret holding the quality gates' webhook URL; null: none."
  type        = string
  default     = null
}

variable "execution_role_arn" {
  description = "The ECS task execution role (image pull, logs, secrets)."
  type        = string
}

variable "task_role_arns" {
  description = "The task role per role: api, consumer, dashboard, batch."
  type        = map(string)

  validation {
    condition     = length(setsubtract(["api", "consumer", "dashboard", "batch"], keys(var.task_role_arns))) == 0
    error_message = "task_role_arns needs api, consumer, dashboard and batch."
  }
}

variable "log_group_names" {
  description = "The log group per role: api, consumer, dashboard, batch."
  type        = map(string)
}

variable "batch_task_family" {
  description = "The batch task definition's family (MWAA runs it: EVENTLAKE_ECS_TASK_DEFINITION)."
  type        = string
}

variable "stream_names" {
  description = "The Kinesis stream name per dataset (the consumers scale on their iterator age)."
  type        = map(string)
}

variable "shard_count" {
  description = "Shards per stream (PROVISIONED); null on demand. Caps the consumers' autoscaling."
  type        = number
  default     = null
}

variable "api_count" {
  description = "API tasks."
  type        = number
  default     = 2
}

variable "api_workers" {
  description = "uvicorn workers per API task."
  type        = number
  default     = 2
}

variable "api_cpu" {
  description = "API task CPU units."
  type        = number
  default     = 1024
}

variable "api_memory" {
  description = "API task memory (MiB)."
  type        = number
  default     = 2048
}

variable "consumer_min_count" {
  description = "Consumer tasks at least."
  type        = number
  default     = 1
}

variable "consumer_max_count" {
  description = "Consumer tasks at most (also capped at the shard count)."
  type        = number
  default     = 4
}

variable "consumer_target_iterator_age_seconds" {
  description = "The iterator age the consumers' autoscaling aims at."
  type        = number
  default     = 60
}

variable "consumer_cpu" {
  description = "Consumer task CPU units."
  type        = number
  default     = 1024
}

variable "consumer_memory" {
  description = "Consumer task memory (MiB): a batch is up to EVENTLAKE_CONSUMER__MAX_BATCH_BYTES of rows."
  type        = number
  default     = 4096
}

variable "dashboard_count" {
  description = "Dashboard tasks."
  type        = number
  default     = 1
}

variable "dashboard_cpu" {
  description = "Dashboard task CPU units."
  type        = number
  default     = 512
}

variable "dashboard_memory" {
  description = "Dashboard task memory (MiB)."
  type        = number
  default     = 1024
}

variable "batch_cpu" {
  description = "Batch (Airflow task) CPU units."
  type        = number
  default     = 1024
}

variable "batch_memory" {
  description = "Batch (Airflow task) memory (MiB)."
  type        = number
  default     = 4096
}

variable "certificate_arn" {
  description = "The ACM certificate of the HTTPS listeners."
  type        = string
}

variable "ssl_policy" {
  description = "The HTTPS listeners' TLS policy."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "alb_internal" {
  description = "An internal load balancer (private subnets) instead of an internet-facing one."
  type        = bool
  default     = false
}

variable "api_ingress_cidrs" {
  description = "Who may reach the API (443, and 80 for the redirect)."
  type        = list(string)
}

variable "dashboard_ingress_cidrs" {
  description = "Who may reach the dashboard's port (it has no login of its own)."
  type        = list(string)
  default     = []
}

variable "dashboard_port" {
  description = "The dashboard's HTTPS port on the load balancer."
  type        = number
  default     = 8443
}

variable "access_logs_bucket" {
  description = "The bucket of the load balancer's access logs (prefix alb/)."
  type        = string
}

variable "waf_web_acl_arn" {
  description = "A WAFv2 web ACL to associate with the load balancer; null: none."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
