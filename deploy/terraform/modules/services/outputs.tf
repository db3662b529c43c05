output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "The ECS cluster's ARN."
  value       = aws_ecs_cluster.this.arn
}

output "api_url" {
  description = "The API's base URL."
  value       = "https://${aws_lb.api.dns_name}"
}

output "dashboard_url" {
  description = "The dashboard's URL."
  value       = "https://${aws_lb.api.dns_name}:${var.dashboard_port}"
}

output "alb_dns_name" {
  description = "The load balancer's DNS name (point your certificate's name at it)."
  value       = aws_lb.api.dns_name
}

output "alb_arn_suffix" {
  description = "The load balancer's ARN suffix (CloudWatch dimension)."
  value       = aws_lb.api.arn_suffix
}

output "api_target_group_arn_suffix" {
  description = "The API target group's ARN suffix (CloudWatch dimension)."
  value       = aws_lb_target_group.api.arn_suffix
}

output "task_security_group_ids" {
  description = "The security group per role."
  value       = { for role, sg in aws_security_group.task : role => sg.id }
}

output "batch_task_definition_family" {
  description = "The batch task definition's family."
  value       = aws_ecs_task_definition.role["batch"].family
}

output "batch_task_definition_arn" {
  description = "The batch task definition's latest revision."
  value       = aws_ecs_task_definition.role["batch"].arn
}

output "container_name" {
  description = "The container name of every task definition."
  value       = local.container_name
}

output "service_names" {
  description = "The ECS service per role."
  value       = { for role, s in aws_ecs_service.role : role => s.name }
}
