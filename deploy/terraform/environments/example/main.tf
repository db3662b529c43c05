# One eventlake deployment: every module wired together. Copy this folder per environment;
# terraform.tfvars.example lists what to set. Run from this folder of a checkout: the stream
# per dataset comes from the data contracts and the DAG files from dags/, both by path.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  repo_root  = "${path.module}/../../../.."

  # The datasets: the data contracts the app ships (eventlake.contracts.DATASETS).
  datasets = var.datasets != null ? var.datasets : sort([
    for f in fileset("${local.repo_root}/src/eventlake/resources/contracts", "*.yaml") : trimsuffix(f, ".yaml")
  ])

  cluster_name          = var.name_prefix
  batch_task_family     = "${var.name_prefix}-batch"
  mwaa_environment_name = "${var.name_prefix}-airflow"
  image                 = coalesce(var.image, "${aws_ecr_repository.eventlake.repository_url}:${var.image_tag}")

  # Plain settings of every container (src/eventlake/config.py). Passwords and keys are not
  # here: they are ECS secrets (modules/services).
  environment = merge(
    {
      EVENTLAKE_STATE_URL                       = module.database.state_url
      EVENTLAKE_LAKE__CATALOG__KIND             = "glue"
      EVENTLAKE_LAKE__CATALOG__WAREHOUSE        = module.lake.warehouse_uri
      EVENTLAKE_LAKE__CATALOG__REGION           = var.region
      EVENTLAKE_LAKE__NAMESPACE                 = module.lake.glue_database_name
      EVENTLAKE_STREAM__BACKEND__KIND           = "kinesis"
      EVENTLAKE_STREAM__BACKEND__REGION         = var.region
      EVENTLAKE_STREAM__BACKEND__CREATE_MISSING = "false"
      EVENTLAKE_STREAM__NAME_PREFIX             = var.name_prefix
      EVENTLAKE_LANDING_URI                     = module.lake.landing_uri
    },
    var.snowflake == null ? {} : {
      EVENTLAKE_WAREHOUSE__TARGET = "prod"
      SNOWFLAKE_ACCOUNT           = var.snowflake.account
      SNOWFLAKE_USER              = var.snowflake.user
      SNOWFLAKE_ROLE              = var.snowflake.role
      SNOWFLAKE_WAREHOUSE         = var.snowflake.warehouse
      SNOWFLAKE_DATABASE          = var.snowflake.database
    },
    var.extra_environment,
  )

  # The secrets the execution role may read (the containers get them as ECS secrets).
  secret_arns = merge(
    {
      database = module.database.password_secret_arn
      api_keys = aws_secretsmanager_secret.api_keys.arn
    },
    var.snowflake == null ? {} : { snowflake = var.snowflake.password_secret_arn },
    var.quality_webhook_secret_arn == null ? {} : { quality_webhook = var.quality_webhook_secret_arn },
  )
}

module "stream" {
  source = "../../modules/stream"

  name_prefix     = var.name_prefix
  datasets        = local.datasets
  stream_mode     = var.stream_mode
  shard_count     = var.shard_count
  retention_hours = var.stream_retention_hours
  kms_key_arn     = aws_kms_key.eventlake.arn
}

module "lake" {
  source = "../../modules/lake"

  name_prefix                 = var.name_prefix
  bucket_name                 = var.lake_bucket_name
  kms_key_arn                 = aws_kms_key.eventlake.arn
  dead_letter_expiration_days = var.dead_letter_expiration_days
  noncurrent_expiration_days  = var.noncurrent_expiration_days
}

module "database" {
  source = "../../modules/database"

  name_prefix         = var.name_prefix
  existing_database   = var.existing_database
  vpc_id              = var.vpc_id
  subnet_ids          = var.private_subnet_ids
  kms_key_arn         = aws_kms_key.eventlake.arn
  instance_class      = var.db_instance_class
  multi_az            = var.db_multi_az
  deletion_protection = var.deletion_protection
  # Every eventlake role keeps its job state there: api, consumer, dashboard, batch.
  client_security_group_ids = module.services.task_security_group_ids
}

module "iam" {
  source = "../../modules/iam"

  name_prefix                  = var.name_prefix
  stream_arns                  = values(module.stream.stream_arns)
  kms_key_arn                  = aws_kms_key.eventlake.arn
  lake_bucket_arn              = module.lake.bucket_arn
  lake_prefix                  = module.lake.warehouse_prefix
  landing_bucket_arn           = module.lake.bucket_arn
  landing_prefix               = module.lake.landing_prefix
  glue_database_name           = module.lake.glue_database_name
  region                       = var.region
  account_id                   = local.account_id
  secret_arns                  = local.secret_arns
  log_group_arns               = values(module.monitoring.log_group_arns)
  ecs_cluster_arn              = module.services.cluster_arn
  batch_task_definition_family = local.batch_task_family
  mwaa_source_bucket_arn       = module.airflow.source_bucket_arn
  mwaa_environment_name        = local.mwaa_environment_name
  ecr_repository_arns          = [aws_ecr_repository.eventlake.arn]
}

module "services" {
  source = "../../modules/services"

  name_prefix        = var.name_prefix
  cluster_name       = local.cluster_name
  region             = var.region
  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  public_subnet_ids  = var.public_subnet_ids
  image              = local.image
  cpu_architecture   = var.cpu_architecture
  environment        = local.environment

  database_password_secret_arn  = module.database.password_secret_arn
  api_keys_secret_arn           = aws_secretsmanager_secret.api_keys.arn
  snowflake_password_secret_arn = var.snowflake == null ? null : var.snowflake.password_secret_arn
  quality_webhook_secret_arn    = var.quality_webhook_secret_arn

  execution_role_arn = module.iam.execution_role_arn
  task_role_arns = {
    api       = module.iam.api_task_role_arn
    consumer  = module.iam.consumer_task_role_arn
    dashboard = module.iam.dashboard_task_role_arn
    batch     = module.iam.batch_task_role_arn
  }
  log_group_names   = module.monitoring.log_group_names
  batch_task_family = local.batch_task_family

  stream_names                         = module.stream.stream_names
  shard_count                          = module.stream.shard_count
  api_count                            = var.api_count
  consumer_min_count                   = var.consumer_min_count
  consumer_max_count                   = var.consumer_max_count
  consumer_target_iterator_age_seconds = var.consumer_target_iterator_age_seconds

  certificate_arn         = var.certificate_arn
  alb_internal            = var.alb_internal
  api_ingress_cidrs       = var.api_ingress_cidrs
  dashboard_ingress_cidrs = var.dashboard_ingress_cidrs
  access_logs_bucket      = module.lake.logs_bucket_name
  waf_web_acl_arn         = var.waf_web_acl_arn
  deletion_protection     = var.deletion_protection
}

module "monitoring" {
  source = "../../modules/monitoring"

  name_prefix                    = var.name_prefix
  kms_key_arn                    = aws_kms_key.eventlake.arn
  log_retention_days             = var.log_retention_days
  stream_names                   = module.stream.stream_names
  alb_arn_suffix                 = module.services.alb_arn_suffix
  api_target_group_arn_suffix    = module.services.api_target_group_arn_suffix
  alarm_emails                   = var.alarm_emails
  iterator_age_threshold_seconds = var.iterator_age_alarm_seconds
  no_commit_minutes              = var.no_commit_alarm_minutes
}

module "airflow" {
  source = "../../modules/airflow"

  airflow_mode                 = var.airflow_mode
  name_prefix                  = var.name_prefix
  environment_name             = local.mwaa_environment_name
  environment_class            = var.mwaa_environment_class
  execution_role_arn           = module.iam.mwaa_execution_role_arn
  kms_key_arn                  = aws_kms_key.eventlake.arn
  dags_dir                     = "${local.repo_root}/dags"
  vpc_id                       = var.vpc_id
  private_subnet_ids           = var.private_subnet_ids
  ecs_cluster_name             = module.services.cluster_name
  batch_task_definition_family = module.services.batch_task_definition_family
  container_name               = module.services.container_name
  batch_security_group_ids     = [module.services.task_security_group_ids["batch"]]
  batch_log_group_name         = module.monitoring.log_group_names["batch"]
  access_logs_bucket           = module.lake.logs_bucket_name
  log_retention_days           = var.log_retention_days
}
