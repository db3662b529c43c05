# What several modules share: the customer managed KMS key, the API keys' secret and the
# image's ECR repository.

resource "aws_kms_key" "eventlake" {
  description             = "eventlake ${var.environment}: streams, buckets, database, secrets, logs, alarms"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "eventlake" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.eventlake.key_id
}

# The key's own policy: the account administers it and its IAM policies (modules/iam) grant
# the roles their use of it; CloudWatch Logs and CloudWatch alarms (publishing to the
# encrypted SNS topic) are services that need it granted here.
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_356: in a key policy "*" is the key itself, not every resource
  #checkov:skip=CKV_AWS_111: in a key policy "*" is the key itself; write access is the account's, as AWS's default key policy has it
  #checkov:skip=CKV_AWS_109: in a key policy "*" is the key itself; the account administers its own key, as AWS's default key policy has it
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToTheTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# EVENTLAKE_API_KEYS ("name:key[,name:key]", src/eventlake/api_keys.py). Its value is set
# outside Terraform, so no key is ever in the state:
#   aws secretsmanager put-secret-value --secret-id ARN --secret-string 'producer:KEY'
resource "aws_secretsmanager_secret" "api_keys" {
  #checkov:skip=CKV2_AWS_57: API keys are handed to the clients that send events; rotating one is a change agreed with that client (add the new key, then remove the old), not a Lambda's
  name                    = "${var.name_prefix}/api-keys"
  description             = "EVENTLAKE_API_KEYS of the ingest API: name:key[,name:key]"
  kms_key_id              = aws_kms_key.eventlake.arn
  recovery_window_in_days = 7
}

# The image: .github/workflows/image.yml pushes it here on a tag.
resource "aws_ecr_repository" "eventlake" {
  name                 = var.name_prefix
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.eventlake.arn
  }
}

resource "aws_ecr_lifecycle_policy" "eventlake" {
  repository = aws_ecr_repository.eventlake.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.ecr_images_kept} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.ecr_images_kept
      }
      action = { type = "expire" }
    }]
  })
}
