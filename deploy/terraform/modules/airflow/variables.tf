variable "airflow_mode" {
  description = "mwaa: create an MWAA environment for the DAGs; existing: create nothing and set the outputs' ecs_environment on your own Airflow."
  type        = string
  default     = "mwaa"

  validation {
    condition     = contains(["mwaa", "existing"], var.airflow_mode)
    error_message = "airflow_mode must be mwaa or existing."
  }
}

variable "name_prefix" {
  description = "Prefix of the bucket (airflow-PREFIX-ACCOUNT) and the security group."
  type        = string
}

variable "environment_name" {
  description = "The MWAA environment's name."
  type        = string
}

variable "airflow_version" {
  description = "MWAA's Airflow version: 3.x (the DAGs use the airflow.sdk API)."
  type        = string
  default     = "3.0.6"

  validation {
    condition     = can(regex("^3\\.[0-9]+\\.[0-9]+$", var.airflow_version))
    error_message = "airflow_version must be an Airflow 3 version (x.y.z): the DAGs import airflow.sdk."
  }
}

variable "environment_class" {
  description = "MWAA environment class (mw1.micro, mw1.small, mw1.medium, ...)."
  type        = string
  default     = "mw1.small"

  validation {
    condition     = can(regex("^mw1\\.(micro|small|medium|large|xlarge|2xlarge)$", var.environment_class))
    error_message = "environment_class must be an MWAA class (mw1.micro ... mw1.2xlarge)."
  }
}

variable "min_workers" {
  description = "MWAA workers at least (the ECS tasks do the work; workers only follow them)."
  type        = number
  default     = 1
}

variable "max_workers" {
  description = "MWAA workers at most."
  type        = number
  default     = 2
}

variable "webserver_access_mode" {
  description = "PRIVATE_ONLY (reached from inside the VPC) or PUBLIC_ONLY (IAM-authenticated, from the internet)."
  type        = string
  default     = "PRIVATE_ONLY"

  validation {
    condition     = contains(["PRIVATE_ONLY", "PUBLIC_ONLY"], var.webserver_access_mode)
    error_message = "webserver_access_mode must be PRIVATE_ONLY or PUBLIC_ONLY."
  }
}

variable "execution_role_arn" {
  description = "MWAA's execution role (modules/iam: runs the batch task, reads its bucket, logs); null with airflow_mode = existing."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "The KMS key of the bucket, the environment and its log groups."
  type        = string
}

variable "dags_dir" {
  description = "The folder of the DAG files (the repository's dags/)."
  type        = string
}

variable "requirements" {
  description = "requirements.txt for MWAA's workers. The Amazon provider (EcsRunTaskOperator) ships with MWAA; the tasks' own code runs in the image, not here."
  type        = string
  default     = "# eventlake's DAGs need only the Amazon provider, which MWAA ships with.\n"
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets: MWAA takes the first two; the batch tasks run in all (EVENTLAKE_ECS_SUBNETS)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "MWAA needs two private subnets in different availability zones."
  }
}

variable "ecs_cluster_name" {
  description = "The ECS cluster of the batch tasks."
  type        = string
}

variable "batch_task_definition_family" {
  description = "The batch task definition family (EVENTLAKE_ECS_TASK_DEFINITION)."
  type        = string
}

variable "container_name" {
  description = "The container of the batch task definition (EVENTLAKE_ECS_CONTAINER)."
  type        = string
  default     = "eventlake"
}

variable "batch_security_group_ids" {
  description = "Security groups of the batch tasks (EVENTLAKE_ECS_SECURITY_GROUPS)."
  type        = list(string)
}

variable "batch_log_group_name" {
  description = "The batch task definition's awslogs-group (EVENTLAKE_ECS_LOG_GROUP)."
  type        = string
}

variable "batch_log_stream_prefix" {
  description = "The batch task definition's awslogs-stream-prefix (EVENTLAKE_ECS_LOG_STREAM_PREFIX)."
  type        = string
  default     = "batch"
}

variable "access_logs_bucket" {
  description = "The bucket of the DAG bucket's S3 access logs."
  type        = string
}

variable "log_retention_days" {
  description = "Days MWAA's logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
