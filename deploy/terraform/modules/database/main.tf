# RDS PostgreSQL for the job state (jobs, idempotency keys, consumer leases and progress),
# or nothing when existing_database points at one that exists already.
# The master password is RDS's own secret in Secrets Manager (manage_master_user_password):
# it never passes through Terraform's state; the tasks get it as the ECS secret PGPASSWORD.

locals {
  create = var.existing_database == null
}

resource "aws_db_subnet_group" "state" {
  count      = local.create ? 1 : 0
  name       = "${var.name_prefix}-state"
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "state" {
  count       = local.create ? 1 : 0
  name        = "${var.name_prefix}-state-db"
  description = "eventlake job-state database: PostgreSQL from the eventlake tasks only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "state" {
  # A map: its keys are known at plan time, the group ids only after apply.
  for_each = local.create ? var.client_security_group_ids : {}

  security_group_id            = aws_security_group.state[0].id
  description                  = "PostgreSQL from the eventlake ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

# Every connection over TLS, and statements slower than a second logged (with DDL).
resource "aws_db_parameter_group" "state" {
  count  = local.create ? 1 : 0
  name   = "${var.name_prefix}-state-postgres${split(".", var.engine_version)[0]}"
  family = "postgres${split(".", var.engine_version)[0]}"
  tags   = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_db_instance" "state" {
  count = local.create ? 1 : 0

  identifier     = "${var.name_prefix}-state"
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class
  db_name        = var.database_name
  username       = var.username
  port           = 5432

  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn
  # Besides the password: the tasks could log in with IAM tokens instead.
  iam_database_authentication_enabled = true

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.state[0].name
  vpc_security_group_ids = [aws_security_group.state[0].id]
  publicly_accessible    = false
  multi_az               = var.multi_az
  parameter_group_name   = aws_db_parameter_group.state[0].name

  backup_retention_period   = var.backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name_prefix}-state-final"

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  performance_insights_enabled    = true
  performance_insights_kms_key_id = var.kms_key_arn
  # Enhanced monitoring needs a role for RDS itself (modules/iam does not make one); 0: off.
  monitoring_interval = var.monitoring_role_arn == null ? 0 : 60
  monitoring_role_arn = var.monitoring_role_arn

  tags = var.tags
}
