terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # State in S3 with S3's own lock file; the bucket, key and region are given at init:
  #   terraform init -backend-config=bucket=BUCKET -backend-config=key=eventlake/example.tfstate \
  #     -backend-config=region=REGION
  # (`terraform init -backend=false` for validate only).
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project     = "eventlake"
      Environment = var.environment
      ManagedBy   = "terraform"
    })
  }
}
