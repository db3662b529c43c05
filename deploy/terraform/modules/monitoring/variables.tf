variable "name_prefix" {
  description = "Prefix of the log groups, alarms, topic and metric namespace."
  type        = string
}

variable "roles" {
  description = "The ECS roles with a log group each (/PREFIX/ecs/ROLE); api, consumer and batch are required by the alarms."
  type        = list(string)
  default     = ["api", "consumer", "dashboard", "batch"]

  validation {
    condition     = length(setsubtract(["api", "consumer", "batch"], var.roles)) == 0
    error_message = "roles must include api, consumer and batch (the alarms read their logs)."
  }
}

variable "kms_key_arn" {
  description = "The KMS key of the log groups and the SNS topic (its policy must let CloudWatch Logs and CloudWatch use it)."
  type        = string
}

variable "log_retention_days" {
  description = "Days the services' logs are kept (a value CloudWatch Logs accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ..., 3653)."
  }
}

variable "stream_names" {
  description = "The Kinesis stream name per dataset."
  type        = map(string)
}

variable "alb_arn_suffix" {
  description = "The API load balancer's ARN suffix (the CloudWatch dimension)."
  type        = string
}

variable "api_target_group_arn_suffix" {
  description = "The API target group's ARN suffix (the CloudWatch dimension)."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each must confirm by mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "iterator_age_threshold_seconds" {
  description = "Alarm when the consumers read records older than this for 5 minutes."
  type        = number
  default     = 300

  validation {
    condition     = var.iterator_age_threshold_seconds > 0
    error_message = "iterator_age_threshold_seconds must be positive."
  }
}

variable "lag_growing_minutes" {
  description = "Alarm when the iterator age grows every minute for this many minutes."
  type        = number
  default     = 10

  validation {
    condition     = var.lag_growing_minutes >= 2 && var.lag_growing_minutes <= 60
    error_message = "lag_growing_minutes must be between 2 and 60."
  }
}

variable "lag_growth_ms_per_second" {
  description = "How fast the iterator age must grow to count as growing, in ms per second (1000: nothing is consumed)."
  type        = number
  default     = 100

  validation {
    condition     = var.lag_growth_ms_per_second > 0 && var.lag_growth_ms_per_second <= 1000
    error_message = "lag_growth_ms_per_second must be in (0, 1000]."
  }
}

variable "no_commit_minutes" {
  description = "Alarm when no consumer committed to the lake for this many minutes."
  type        = number
  default     = 15

  validation {
    condition     = var.no_commit_minutes >= 1 && var.no_commit_minutes <= 1440
    error_message = "no_commit_minutes must be between 1 and 1440."
  }
}

variable "run_failed_period_minutes" {
  description = "The run-failed alarm counts failures over this many minutes."
  type        = number
  default     = 60

  validation {
    condition     = var.run_failed_period_minutes >= 1 && var.run_failed_period_minutes <= 1440
    error_message = "run_failed_period_minutes must be between 1 and 1440."
  }
}

variable "api_5xx_rate_percent" {
  description = "Alarm when more than this percentage of the API's answers are 5xx for 5 minutes."
  type        = number
  default     = 1

  validation {
    condition     = var.api_5xx_rate_percent > 0 && var.api_5xx_rate_percent < 100
    error_message = "api_5xx_rate_percent must be between 0 and 100."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
