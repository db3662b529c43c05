variable "name_prefix" {
  description = "Streams are named PREFIX-DATASET (the app's EVENTLAKE_STREAM__NAME_PREFIX)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,100}$", var.name_prefix))
    error_message = "name_prefix: 1-100 of a-z, A-Z, 0-9, _ . - (the app's stream name rule)."
  }
}

variable "datasets" {
  description = "The datasets, one stream each: the data contracts in src/eventlake/resources/contracts/."
  type        = list(string)

  validation {
    condition     = length(var.datasets) > 0 && alltrue([for d in var.datasets : can(regex("^[a-z][a-z0-9_]*$", d))])
    error_message = "datasets: at least one, each a contract name (lower case, digits, _)."
  }
}

variable "stream_mode" {
  description = "ON_DEMAND (Kinesis scales the shards, billed per GB) or PROVISIONED (shard_count shards, billed per shard-hour)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards per stream in PROVISIONED mode (ignored on demand)."
  type        = number
  default     = 2

  validation {
    condition     = var.shard_count >= 1 && var.shard_count <= 10000 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count must be a whole number from 1 to 10000."
  }
}

variable "retention_hours" {
  description = "How long a record stays readable in the stream: 24 to 8760 hours (beyond 24 costs extra)."
  type        = number
  default     = 168

  validation {
    condition     = var.retention_hours >= 24 && var.retention_hours <= 8760
    error_message = "retention_hours must be between 24 and 8760."
  }
}

variable "kms_key_arn" {
  description = "The customer managed KMS key the streams are encrypted with."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
