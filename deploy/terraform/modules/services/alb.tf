# The load balancer: the API on 443 (HTTP on 80 redirected), the dashboard on its own HTTPS
# port, each port open only to its own CIDR list.

resource "aws_lb" "api" {
  #checkov:skip=CKV2_AWS_28: a WAF web ACL's rules (and cost) are the operator's choice: pass waf_web_acl_arn to associate one
  #checkov:skip=CKV2_AWS_76: no web ACL is made here (see CKV2_AWS_28), so there are no managed rules to check; include AWSManagedRulesKnownBadInputsRuleSet in the one you attach
  name                       = "${var.name_prefix}-api"
  load_balancer_type         = "application"
  internal                   = var.alb_internal
  subnets                    = var.alb_internal ? var.private_subnet_ids : var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = "alb"
    enabled = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "api" {
  count        = var.waf_web_acl_arn == null ? 0 : 1
  resource_arn = aws_lb.api.arn
  web_acl_arn  = var.waf_web_acl_arn
}

resource "aws_lb_target_group" "api" {
  name                 = "${var.name_prefix}-api"
  port                 = 8000
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  # The API's own health: 200 when the stream, the catalog and the state database answer.
  health_check {
    path                = "/api/v1/health"
    matcher             = "200"
    interval            = 15
    timeout             = 10
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_target_group" "dashboard" {
  name                 = "${var.name_prefix}-dashboard"
  port                 = 8501
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path    = "/_stcore/health"
    matcher = "200"
  }

  # Streamlit keeps a session per websocket: a browser stays with its task.
  stickiness {
    type    = "lb_cookie"
    enabled = true
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_lb_listener" "dashboard" {
  load_balancer_arn = aws_lb.api.arn
  port              = var.dashboard_port
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.dashboard.arn
  }
}
