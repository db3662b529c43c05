# The eventlake image on ECS Fargate: the API behind an HTTPS load balancer, the consumers
# (autoscaled on the streams' iterator age), the dashboard, and the batch task definition the
# Airflow tasks run (`eventlake task TASK_ID`, started by MWAA's EcsRunTaskOperator).
# Every container: the same image, a read-only root file system, the image's non-root user,
# plain EVENTLAKE_* settings as `environment`, passwords and keys only as `secrets`.

data "aws_vpc" "this" {
  id = var.vpc_id
}

locals {
  # The container every task definition names (dags/app_env.py: EVENTLAKE_ECS_CONTAINER).
  container_name = "eventlake"
  # The image's user (Dockerfile: USER 10001:10001), said again so that no override of the
  # image can make it root.
  user = "10001:10001"
  home = "/var/lib/eventlake"

  # Plain settings for every role. Rich (the CLI's output) wraps lines at 80 columns when
  # not on a terminal: one log event per line needs a wider console (the lake-commit metric
  # filter in modules/monitoring matches one whole line).
  environment = merge(var.environment, {
    AWS_DEFAULT_REGION = var.region
    COLUMNS            = "1000"
  })

  # Secrets every role needs: libpq reads PGPASSWORD (the state URL has no password).
  # valueFrom "ARN:password::" is the JSON key `password` of RDS's managed secret.
  secrets = {
    PGPASSWORD = "${var.database_password_secret_arn}:password::"
  }
  # Only the API checks the API keys.
  api_secrets = {
    EVENTLAKE_API_KEYS = var.api_keys_secret_arn
  }
  # The warehouse roles (dbt, the gates, the dashboard): Snowflake's password and the quality
  # webhook, when configured.
  warehouse_secrets = merge(
    var.snowflake_password_secret_arn == null ? {} : { SNOWFLAKE_PASSWORD = var.snowflake_password_secret_arn },
    var.quality_webhook_secret_arn == null ? {} : { EVENTLAKE_QUALITY__WEBHOOK_URL = var.quality_webhook_secret_arn },
  )

  roles = {
    api = {
      command = ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", tostring(var.api_workers)]
      port    = 8000
      cpu     = var.api_cpu
      memory  = var.api_memory
      secrets = merge(local.secrets, local.api_secrets)
      health  = true
    }
    consumer = {
      command = ["consume"]
      port    = null
      cpu     = var.consumer_cpu
      memory  = var.consumer_memory
      secrets = local.secrets
      health  = true
    }
    dashboard = {
      command = ["dashboard", "--host", "0.0.0.0", "--port", "8501"]
      port    = 8501
      cpu     = var.dashboard_cpu
      memory  = var.dashboard_memory
      secrets = merge(local.secrets, local.warehouse_secrets)
      health  = true
    }
    # The Airflow tasks: the operator replaces the command with ["task", TASK_ID].
    batch = {
      command = ["task", "--help"]
      port    = null
      cpu     = var.batch_cpu
      memory  = var.batch_memory
      secrets = merge(local.secrets, local.warehouse_secrets)
      health  = false
    }
  }

  families = {
    for role in keys(local.roles) : role => role == "batch" ? var.batch_task_family : "${var.name_prefix}-${role}"
  }

  services = {
    # load_balanced: known at plan time (the target group's ARN is not), for the dynamic block.
    api       = { count = var.api_count, load_balanced = true, target_group = aws_lb_target_group.api.arn }
    consumer  = { count = var.consumer_min_count, load_balanced = false, target_group = null }
    dashboard = { count = var.dashboard_count, load_balanced = true, target_group = aws_lb_target_group.dashboard.arn }
  }

  # Consumers share a stream's shards by lease: more consumers than shards per stream sit
  # idle, so the autoscaling stops at the shard count (on demand: at consumer_max_count).
  consumer_max_count = var.shard_count == null ? var.consumer_max_count : min(var.consumer_max_count, var.shard_count)
}

resource "aws_ecs_cluster" "this" {
  name = var.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_ecs_task_definition" "role" {
  for_each = local.roles

  family                   = local.families[each.key]
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # EVENTLAKE_HOME: the only writable place (the image declares it a VOLUME owned by its
  # user; Fargate keeps that ownership on the task's ephemeral storage).
  volume {
    name = "home"
  }

  container_definitions = jsonencode([{
    name                   = local.container_name
    image                  = var.image
    essential              = true
    command                = each.value.command
    user                   = local.user
    readonlyRootFilesystem = true
    privileged             = false
    environment            = [for name, value in local.environment : { name = name, value = value }]
    secrets                = [for name, arn in each.value.secrets : { name = name, valueFrom = arn }]
    mountPoints            = [{ sourceVolume = "home", containerPath = local.home, readOnly = false }]
    portMappings           = each.value.port == null ? [] : [{ containerPort = each.value.port, protocol = "tcp" }]
    # SIGTERM: the consumer commits the batch in hand and gives its leases back first.
    stopTimeout = 120
    healthCheck = each.value.health ? {
      command     = ["CMD", "/opt/venv/bin/python", "/opt/eventlake/healthcheck.py"]
      interval    = 15
      timeout     = 10
      retries     = 5
      startPeriod = 60
    } : null
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_names[each.key]
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
  }])

  tags = merge(var.tags, { Role = each.key })
}

resource "aws_ecs_service" "role" {
  for_each = local.services

  name             = "${var.name_prefix}-${each.key}"
  cluster          = aws_ecs_cluster.this.arn
  task_definition  = aws_ecs_task_definition.role[each.key].arn
  desired_count    = each.value.count
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  enable_execute_command            = false
  health_check_grace_period_seconds = each.value.load_balanced ? 90 : null

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task[each.key].id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = each.value.load_balanced ? [each.value.target_group] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = local.container_name
      container_port   = local.roles[each.key].port
    }
  }

  lifecycle {
    # The consumers' count is the autoscaling's to change.
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https, aws_lb_listener.dashboard]
  tags       = var.tags
}

# --- consumers: autoscaled on the streams' iterator age -----------------------------------

resource "aws_appautoscaling_target" "consumer" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.role["consumer"].name}"
  min_capacity       = var.consumer_min_count
  max_capacity       = local.consumer_max_count
}

# Keeps the oldest unread record of the slowest stream near the target age: a consumer more
# when the consumers fall behind, one less when they keep up.
resource "aws_appautoscaling_policy" "consumer_iterator_age" {
  name               = "${var.name_prefix}-consumer-iterator-age"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.consumer.service_namespace
  scalable_dimension = aws_appautoscaling_target.consumer.scalable_dimension
  resource_id        = aws_appautoscaling_target.consumer.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.consumer_target_iterator_age_seconds * 1000
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      metrics {
        id          = "oldest"
        label       = "GetRecords.IteratorAgeMilliseconds, the slowest stream"
        expression  = "MAX([${join(",", [for dataset in keys(var.stream_names) : "age_${dataset}"])}])"
        return_data = true
      }

      dynamic "metrics" {
        for_each = var.stream_names
        content {
          id          = "age_${metrics.key}"
          return_data = false
          metric_stat {
            stat = "Maximum"
            metric {
              namespace   = "AWS/Kinesis"
              metric_name = "GetRecords.IteratorAgeMilliseconds"
              dimensions {
                name  = "StreamName"
                value = metrics.value
              }
            }
          }
        }
      }
    }
  }
}
