#!/usr/bin/env bash
# The GitHub workflows' static checks (make lint-workflows, part of make lint and make test):
#   actionlint        syntax, expressions, runner labels, action inputs, job dependencies;
#   zizmor --offline  security: unpinned actions, template injection into run:, credentials
#                     left by checkout, excessive permissions, cache poisoning in releases;
#                     zero findings (an ignore only in .github/zizmor.yml, with its reason);
#   check-jsonschema  the workflow JSON schema (SchemaStore's, vendored in check-jsonschema).
# The three come from .venv (the Makefile puts .venv/bin first on PATH). Offline: nothing here
# reaches GitHub. Exit non-zero on any finding.
set -euo pipefail

cd "$(dirname "$0")/.."
workflows=(.github/workflows/*.yml)

echo "actionlint: ${workflows[*]}"
actionlint "${workflows[@]}"

echo "zizmor --offline: .github/workflows"
zizmor --offline --quiet .github/workflows

echo "check-jsonschema (vendor.github-workflows): ${workflows[*]}"
check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
