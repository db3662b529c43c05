locals {
  instance = local.create ? aws_db_instance.state[0] : null
}

output "host" {
  description = "The database host."
  value       = local.create ? local.instance.address : var.existing_database.host
}

output "port" {
  description = "The database port."
  value       = local.create ? local.instance.port : var.existing_database.port
}

output "database" {
  description = "The database name."
  value       = local.create ? local.instance.db_name : var.existing_database.database
}

output "username" {
  description = "The user the tasks log in as."
  value       = local.create ? local.instance.username : var.existing_database.username
}

output "password_secret_arn" {
  description = "The Secrets Manager secret with the password (JSON key `password`)."
  value       = local.create ? local.instance.master_user_secret[0].secret_arn : var.existing_database.password_secret_arn
}

output "state_url" {
  description = "EVENTLAKE_STATE_URL, without the password (libpq reads PGPASSWORD)."
  value = format(
    "postgresql+psycopg://%s@%s:%d/%s",
    local.create ? local.instance.username : var.existing_database.username,
    local.create ? local.instance.address : var.existing_database.host,
    local.create ? local.instance.port : var.existing_database.port,
    local.create ? local.instance.db_name : var.existing_database.database,
  )
}

output "endpoint" {
  description = "host:port of the database."
  value       = local.create ? local.instance.endpoint : "${var.existing_database.host}:${var.existing_database.port}"
}

output "security_group_id" {
  description = "The database's security group (null for an existing database)."
  value       = local.create ? aws_security_group.state[0].id : null
}
