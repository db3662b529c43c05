variable "name_prefix" {
  description = "Prefix of the database's resource names."
  type        = string
}

variable "existing_database" {
  description = "Use this PostgreSQL instead of creating one: its host, port, database, user and the ARN of a Secrets Manager secret whose JSON key `password` holds the password. null: create RDS PostgreSQL."
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

variable "vpc_id" {
  description = "The VPC of the database."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the database (two availability zones at least)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect on 5432, by role (the eventlake tasks, MWAA has none: its tasks run on ECS)."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "The KMS key for the storage, the managed master secret and Performance Insights."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL version (major or major.minor)."
  type        = string
  default     = "17"

  validation {
    condition     = can(regex("^1[4-9](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version: PostgreSQL 14 or later, e.g. \"17\" or \"16.4\"."
  }
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.small"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must be an RDS class (db.*)."
  }
}

variable "database_name" {
  description = "The database the job state lives in."
  type        = string
  default     = "eventlake"
}

variable "username" {
  description = "The master user the tasks log in as."
  type        = string
  default     = "eventlake"
}

variable "allocated_storage_gb" {
  description = "Initial storage in GB."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage_gb >= 20
    error_message = "allocated_storage_gb must be at least 20 (gp3)."
  }
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling in GB."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "A standby in a second availability zone (doubles the instance cost)."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the database (set false, apply, then destroy)."
  type        = bool
  default     = true
}

variable "monitoring_role_arn" {
  description = "An IAM role for RDS enhanced monitoring (monitoring.rds.amazonaws.com); null: enhanced monitoring off."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
