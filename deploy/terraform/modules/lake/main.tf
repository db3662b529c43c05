# The lake's bucket (Iceberg tables under warehouse_prefix, the landing files under
# landing_prefix), the Glue database that catalogs the tables, and a bucket for the access
# logs of the lake bucket and of the API's load balancer.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}
# Elastic Load Balancing's account in this region (it writes the access logs).
data "aws_elb_service_account" "this" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  bucket_name = coalesce(var.bucket_name, "${var.name_prefix}-lake-${local.account_id}")
  logs_bucket = "${local.bucket_name}-logs"
  # pyiceberg puts a Glue table at the database's location + "/" + table.
  database_location = "s3://${aws_s3_bucket.lake.bucket}/${var.warehouse_prefix}/${var.glue_database_name}.db"
}

resource "aws_s3_bucket" "lake" {
  #checkov:skip=CKV_AWS_144: cross-region replication is a disaster-recovery choice with its own region, key and cost; enable it in the environment that needs it
  #checkov:skip=CKV2_AWS_62: nothing reacts to object events: the consumers read Kinesis and the pipeline lists the landing prefix
  bucket = local.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # One KMS request per bucket key instead of per object: the consumers write many files.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_policy" "lake" {
  bucket = aws_s3_bucket.lake.id
  policy = data.aws_iam_policy_document.tls_only["lake"].json
  # A bucket policy set before the public access block may be judged public.
  depends_on = [aws_s3_bucket_public_access_block.lake]
}

resource "aws_s3_bucket_logging" "lake" {
  bucket        = aws_s3_bucket.lake.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${local.bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  # Rules act on versions: the bucket must be versioned first.
  depends_on = [aws_s3_bucket_versioning.lake]

  # Landing files the pipeline could not read (landing/_rejected/DATE/..., each with its
  # .reason.txt): the dead letters of file ingestion, kept long enough to look at.
  # The dead-letter *table* (events_rejected) is Iceberg: its files are referenced by its
  # metadata, so it is trimmed by the lake's maintenance, never by a lifecycle rule.
  rule {
    id     = "dead-letters"
    status = "Enabled"
    filter {
      prefix = "${var.landing_prefix}/_rejected/"
    }
    expiration {
      days = var.dead_letter_expiration_days
    }
  }

  # Landing files already ingested (landing/_done/DATE/...): their events are in the lake.
  rule {
    id     = "ingested-landing-files"
    status = "Enabled"
    filter {
      prefix = "${var.landing_prefix}/_done/"
    }
    expiration {
      days = var.landed_file_expiration_days
    }
  }

  # Orphans: files `eventlake lake expire` and compaction delete (unreferenced snapshots'
  # files, orphan data files) stay as noncurrent versions in a versioned bucket; they go for
  # good after this many days, leaving the delete markers to be cleaned up too.
  rule {
    id     = "orphans-and-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_expiration_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_multipart_days
    }
  }
}

resource "aws_glue_catalog_database" "lake" {
  name         = var.glue_database_name
  description  = "eventlake's Iceberg tables (one per dataset and the dead-letter table)."
  location_uri = local.database_location
}

# Empty prefix markers are not needed on S3: the landing prefix exists once a file lands.

# --- access logs (S3 server access logs and the load balancer's) --------------------------

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18: this is the access-log bucket; logging it into itself would loop
  #checkov:skip=CKV_AWS_144: access logs are not replicated: they are kept for audit in this region only
  #checkov:skip=CKV_AWS_145: S3 server access logs and ALB access logs can only be delivered to a bucket encrypted with SSE-S3, not SSE-KMS
  #checkov:skip=CKV2_AWS_62: nothing reacts to new log objects
  bucket = local.logs_bucket
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket     = aws_s3_bucket.logs.id
  depends_on = [aws_s3_bucket_versioning.logs]

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_multipart_days
    }
  }
}

data "aws_iam_policy_document" "logs" {
  source_policy_documents = [data.aws_iam_policy_document.tls_only["logs"].json]

  # S3 server access logs of the lake bucket.
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # The load balancer's access logs: Elastic Load Balancing's account in the regions opened
  # before August 2022, its log delivery service principal in the newer ones.
  statement {
    sid       = "LoadBalancerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket     = aws_s3_bucket.logs.id
  policy     = data.aws_iam_policy_document.logs.json
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

# --- TLS only --------------------------------------------------------------------------

data "aws_iam_policy_document" "tls_only" {
  for_each = {
    lake = aws_s3_bucket.lake.arn
    logs = aws_s3_bucket.logs.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
