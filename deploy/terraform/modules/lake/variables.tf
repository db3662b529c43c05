variable "name_prefix" {
  description = "Prefix of the bucket names (PREFIX-lake-ACCOUNT unless bucket_name is set)."
  type        = string
}

variable "bucket_name" {
  description = "The lake bucket's name; null: PREFIX-lake-ACCOUNT_ID (globally unique). The access logs go to NAME-logs."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,56}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name: 3-58 characters of a-z, 0-9, . and - (room is left for the -logs suffix)."
  }
}

variable "warehouse_prefix" {
  description = "The Iceberg warehouse's prefix in the bucket (EVENTLAKE_LAKE__CATALOG__WAREHOUSE = s3://BUCKET/PREFIX)."
  type        = string
  default     = "lake"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.warehouse_prefix))
    error_message = "warehouse_prefix: one path segment of a-z, 0-9, _ and -, no slashes."
  }
}

variable "landing_prefix" {
  description = "Where files to ingest are dropped (EVENTLAKE_LANDING_URI = s3://BUCKET/PREFIX); handled ones move to PREFIX/_done/ or PREFIX/_rejected/."
  type        = string
  default     = "landing"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.landing_prefix))
    error_message = "landing_prefix: one path segment of a-z, 0-9, _ and -, no slashes."
  }
}

variable "glue_database_name" {
  description = "The Glue database of the tables: the app's Iceberg namespace (EVENTLAKE_LAKE__NAMESPACE)."
  type        = string
  default     = "eventlake"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,127}$", var.glue_database_name))
    error_message = "glue_database_name: lower case letters, digits and _, starting with a letter or _ (the app's namespace rule)."
  }
}

variable "kms_key_arn" {
  description = "The customer managed KMS key the lake bucket is encrypted with."
  type        = string
}

variable "dead_letter_expiration_days" {
  description = "Days a rejected landing file (PREFIX/_rejected/) is kept."
  type        = number
  default     = 30

  validation {
    condition     = var.dead_letter_expiration_days >= 1
    error_message = "dead_letter_expiration_days must be at least 1."
  }
}

variable "landed_file_expiration_days" {
  description = "Days an ingested landing file (PREFIX/_done/) is kept."
  type        = number
  default     = 14

  validation {
    condition     = var.landed_file_expiration_days >= 1
    error_message = "landed_file_expiration_days must be at least 1."
  }
}

variable "noncurrent_expiration_days" {
  description = "Days a deleted or overwritten object (expired snapshots' files, orphans) is kept as a noncurrent version."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_expiration_days >= 1
    error_message = "noncurrent_expiration_days must be at least 1."
  }
}

variable "abort_multipart_days" {
  description = "Days after which an unfinished multipart upload is aborted (its parts are billed until then)."
  type        = number
  default     = 2

  validation {
    condition     = var.abort_multipart_days >= 1
    error_message = "abort_multipart_days must be at least 1."
  }
}

variable "access_log_expiration_days" {
  description = "Days the S3 and load balancer access logs are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_expiration_days >= 1
    error_message = "access_log_expiration_days must be at least 1."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
