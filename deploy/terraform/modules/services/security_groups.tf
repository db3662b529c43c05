# One security group per role: the load balancer reaches the API and the dashboard only;
# the tasks reach AWS's APIs, ECR and Snowflake over HTTPS, and PostgreSQL in the VPC.

resource "aws_security_group" "alb" {
  name        = "${var.name_prefix}-alb"
  description = "eventlake load balancer: HTTPS in, the API and the dashboard out"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

locals {
  alb_ingress = merge(
    { for cidr in var.api_ingress_cidrs : "https ${cidr}" => { cidr = cidr, port = 443 } },
    { for cidr in var.api_ingress_cidrs : "http ${cidr}" => { cidr = cidr, port = 80 } },
    { for cidr in var.dashboard_ingress_cidrs : "dashboard ${cidr}" => { cidr = cidr, port = var.dashboard_port } },
  )
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  #checkov:skip=CKV_AWS_260: port 80 only answers with a redirect to HTTPS (aws_lb_listener.http); no request is served over it
  for_each = local.alb_ingress

  security_group_id = aws_security_group.alb.id
  description       = "${split(" ", each.key)[0]} from ${each.value.cidr}"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "to the API tasks"
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
  referenced_security_group_id = aws_security_group.task["api"].id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_dashboard" {
  security_group_id            = aws_security_group.alb.id
  description                  = "to the dashboard tasks"
  ip_protocol                  = "tcp"
  from_port                    = 8501
  to_port                      = 8501
  referenced_security_group_id = aws_security_group.task["dashboard"].id
}

resource "aws_security_group" "task" {
  for_each = local.roles

  name        = "${var.name_prefix}-${each.key}"
  description = "eventlake ${each.key} tasks"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Role = each.key })
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.task["api"].id
  description                  = "the API from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "dashboard_from_alb" {
  security_group_id            = aws_security_group.task["dashboard"].id
  description                  = "the dashboard from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 8501
  to_port                      = 8501
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  for_each = aws_security_group.task

  security_group_id = each.value.id
  description       = "HTTPS: AWS APIs (Kinesis, S3, Glue, Secrets Manager, CloudWatch), ECR, Snowflake"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "task_postgres" {
  for_each = aws_security_group.task

  security_group_id = each.value.id
  description       = "PostgreSQL (the job state) in the VPC"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = data.aws_vpc.this.cidr_block
}
