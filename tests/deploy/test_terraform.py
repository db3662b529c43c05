"""The Terraform under deploy/terraform/, read as a reviewer reads it: parsed with python-hcl2
and checked for the properties the deployment promises (encryption, no public access, HTTPS,
autoscaling bounds, secrets only as ECS secrets, retention, alarms on real log lines, every
variable described, typed and validated where a value can be wrong).

`terraform validate` and `plan` need the AWS provider from the registry, which this machine
cannot reach: .github/workflows/deploy.yml runs them. `terraform fmt` and checkov run in
deploy/terraform/lint.sh (make lint-terraform).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from eventlake.config import PROJECT_ROOT, RESOURCES
from eventlake.contracts import DATASETS

TERRAFORM = PROJECT_ROOT / "deploy" / "terraform"
EXAMPLE = TERRAFORM / "environments" / "example"
# The modules this file checks; modules/iam has tests of its own (test_iam_policies.py): only
# its interface (variables, outputs) is read here, to check the example environment's call.
MODULES = ("stream", "lake", "database", "services", "monitoring", "airflow")
ALL_MODULES = (*MODULES, "iam")
# Names of settings that are secrets: they reach a container only as an ECS `secrets` entry.
SECRET_NAME = re.compile(r"(?i)password|secret|api_keys|token|webhook")


@dataclass
class Config:
    """One Terraform folder: its blocks by kind."""

    text: str = ""
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for (k, name), body in self.resources.items() if k == kind}


# Strings without HCL's quotes (escapes undone), no comments, blocks as lists of bodies: what a
# reviewer reads, and a third quicker to build than python-hcl2's default round-trip form.
PARSED = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


def load(folder: Path, only: tuple[str, ...] | None = None) -> Config:
    config = Config()
    for path in sorted(folder.glob("*.tf")):
        if only is not None and path.name not in only:
            continue
        text = path.read_text()
        config.text += text
        parsed = hcl2.loads(text, serialization_options=PARSED)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    config.resources[(kind, name)] = body
        for block in parsed.get("data", []):
            for kind, named in block.items():
                for name, body in named.items():
                    config.data[(kind, name)] = body
        for kind in ("variable", "output", "module"):
            target = {"variable": config.variables, "output": config.outputs}.get(
                kind, config.modules
            )
            for block in parsed.get(kind, []):
                target.update(block)
        for block in parsed.get("locals", []):
            config.locals.update(block)
        config.terraform.extend(parsed.get("terraform", []))
    return config


@pytest.fixture(scope="module")
def tf() -> dict[str, Config]:
    configs = {name: load(TERRAFORM / "modules" / name) for name in MODULES}
    if (TERRAFORM / "modules" / "iam").is_dir():
        interface = ("variables.tf", "outputs.tf", "versions.tf")
        configs["iam"] = load(TERRAFORM / "modules" / "iam", interface)
    configs["example"] = load(EXAMPLE)
    return configs


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The one nested block ``name`` of a body (python-hcl2 gives a list of them)."""
    (only,) = body[name]
    return only


def test_terraform_and_the_aws_provider_are_pinned(tf: dict[str, Config]) -> None:
    for name, config in tf.items():
        (settings,) = [t for t in config.terraform if "required_providers" in t]
        aws = settings["required_providers"][0]["aws"]
        assert aws["source"] == "hashicorp/aws", name
        if name == "iam":  # its own pins (the environment's, below, bind the deployment)
            continue
        assert settings["required_version"] == ">= 1.6", name
        assert aws["version"] == "~> 6.0", name


def test_one_encrypted_stream_per_dataset_in_the_mode_a_variable_chooses(
    tf: dict[str, Config],
) -> None:
    stream = tf["stream"].of_type("aws_kinesis_stream")["dataset"]
    assert stream["for_each"] == "${toset(var.datasets)}"
    # The app's stream name: StreamSettings.stream_name, PREFIX-DATASET.
    assert stream["name"] == "${var.name_prefix}-${each.key}"
    assert stream["encryption_type"] == "KMS"
    assert stream["kms_key_id"] == "${var.kms_key_arn}"
    assert block(stream, "stream_mode_details")["stream_mode"] == "${var.stream_mode}"
    assert "var.shard_count" in stream["shard_count"]
    assert stream["retention_period"] == "${var.retention_hours}"
    mode = tf["stream"].variables["stream_mode"]
    assert "ON_DEMAND" in mode["validation"][0]["condition"]
    assert "PROVISIONED" in mode["validation"][0]["condition"]
    # The example environment: a stream for every data contract, whatever the contracts are.
    contracts = RESOURCES / "contracts"
    assert sorted(p.stem for p in contracts.glob("*.yaml")) == sorted(DATASETS)
    assert "src/eventlake/resources/contracts" in tf["example"].locals["datasets"]
    assert tf["example"].modules["stream"]["datasets"] == "${local.datasets}"


def test_the_lake_bucket_is_versioned_encrypted_private_and_tls_only(
    tf: dict[str, Config],
) -> None:
    lake = tf["lake"]
    versioning = lake.of_type("aws_s3_bucket_versioning")["lake"]
    assert block(versioning, "versioning_configuration")["status"] == "Enabled"
    sse = block(lake.of_type("aws_s3_bucket_server_side_encryption_configuration")["lake"], "rule")
    default = block(sse, "apply_server_side_encryption_by_default")
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${var.kms_key_arn}"}
    blocked = lake.of_type("aws_s3_bucket_public_access_block")["lake"]
    for setting in ("block_public_acls", "block_public_policy", "ignore_public_acls"):
        assert blocked[setting] is True, setting
    assert blocked["restrict_public_buckets"] is True
    policy = lake.of_type("aws_s3_bucket_policy")["lake"]
    assert policy["policy"] == '${data.aws_iam_policy_document.tls_only["lake"].json}'
    deny = block(lake.data[("aws_iam_policy_document", "tls_only")], "statement")
    assert deny["effect"] == "Deny"
    assert block(deny, "condition") == {
        "test": "Bool",
        "variable": "aws:SecureTransport",
        "values": ["false"],
    }


def test_every_bucket_is_versioned_encrypted_and_blocked(tf: dict[str, Config]) -> None:
    for name in MODULES:
        config = tf[name]
        for bucket in config.of_type("aws_s3_bucket"):
            ref = re.compile(rf"^\$\{{aws_s3_bucket\.{bucket}(\[0\])?\.id\}}$")
            for kind in (
                "aws_s3_bucket_versioning",
                "aws_s3_bucket_server_side_encryption_configuration",
                "aws_s3_bucket_public_access_block",
                "aws_s3_bucket_policy",
                "aws_s3_bucket_lifecycle_configuration",
            ):
                targets = [b["bucket"] for b in config.of_type(kind).values()]
                assert any(ref.match(t) for t in targets), f"{name}: {bucket} has no {kind}"
        for versioning in config.of_type("aws_s3_bucket_versioning").values():
            assert block(versioning, "versioning_configuration")["status"] == "Enabled", name
        for blocked in config.of_type("aws_s3_bucket_public_access_block").values():
            settings = ("block_public_acls", "block_public_policy", "ignore_public_acls")
            assert all(blocked[s] is True for s in settings), name
            assert blocked["restrict_public_buckets"] is True, name
        for sse in config.of_type("aws_s3_bucket_server_side_encryption_configuration").values():
            default = block(block(sse, "rule"), "apply_server_side_encryption_by_default")
            # SSE-KMS with the deployment's key; the access-log bucket cannot be (checkov skip).
            assert default["sse_algorithm"] in ("aws:kms", "AES256"), name
            if default["sse_algorithm"] == "AES256":
                assert "CKV_AWS_145: S3 server access logs" in config.text, name


def test_the_lake_lifecycle_expires_dead_letters_and_orphans(tf: dict[str, Config]) -> None:
    lifecycle = tf["lake"].of_type("aws_s3_bucket_lifecycle_configuration")["lake"]
    rules = {rule["id"]: rule for rule in lifecycle["rule"]}
    assert all(rule["status"] == "Enabled" for rule in rules.values())
    # The landing's rejected files (pipeline/tasks.py: REJECTED_DIR), after N days.
    dead = rules["dead-letters"]
    assert block(dead, "filter")["prefix"] == "${var.landing_prefix}/_rejected/"
    assert block(dead, "expiration")["days"] == "${var.dead_letter_expiration_days}"
    # What maintenance deletes (expired snapshots' files, orphans) stays as noncurrent
    # versions: gone after N days.
    orphans = rules["orphans-and-noncurrent-versions"]
    assert block(orphans, "filter") == {}
    assert block(orphans, "noncurrent_version_expiration") == {
        "noncurrent_days": "${var.noncurrent_expiration_days}"
    }
    aborts = rules["abort-incomplete-multipart-uploads"]
    assert "days_after_initiation" in block(aborts, "abort_incomplete_multipart_upload")
    # The names the app uses for the landing's folders.
    tasks = (PROJECT_ROOT / "src" / "eventlake" / "pipeline" / "tasks.py").read_text()
    assert 'REJECTED_DIR = "_rejected"' in tasks


def test_the_api_is_behind_https_with_its_health_check(tf: dict[str, Config]) -> None:
    services = tf["services"]
    listeners = services.of_type("aws_lb_listener")
    https = listeners["https"]
    assert (https["port"], https["protocol"]) == (443, "HTTPS")
    assert https["certificate_arn"] == "${var.certificate_arn}"
    assert https["ssl_policy"] == "${var.ssl_policy}"
    assert block(https, "default_action")["target_group_arn"] == "${aws_lb_target_group.api.arn}"
    http = listeners["http"]
    assert (http["port"], http["protocol"]) == (80, "HTTP")
    redirect = block(block(http, "default_action"), "redirect")
    assert (redirect["protocol"], redirect["port"]) == ("HTTPS", "443")
    for name, listener in listeners.items():
        if name != "http":
            assert listener["protocol"] == "HTTPS", name
    health = block(services.of_type("aws_lb_target_group")["api"], "health_check")
    assert (health["path"], health["matcher"]) == ("/api/v1/health", "200")
    assert services.of_type("aws_lb")["api"]["drop_invalid_header_fields"] is True


def test_the_consumers_autoscale_on_iterator_age_up_to_the_shard_count(
    tf: dict[str, Config],
) -> None:
    services = tf["services"]
    target = services.of_type("aws_appautoscaling_target")["consumer"]
    assert target["scalable_dimension"] == "ecs:service:DesiredCount"
    assert 'aws_ecs_service.role["consumer"].name' in target["resource_id"]
    assert target["max_capacity"] == "${local.consumer_max_count}"
    assert "min(var.consumer_max_count, var.shard_count)" in services.locals["consumer_max_count"]
    policy = services.of_type("aws_appautoscaling_policy")["consumer_iterator_age"]
    assert policy["policy_type"] == "TargetTrackingScaling"
    assert policy["resource_id"] == "${aws_appautoscaling_target.consumer.resource_id}"
    tracking = block(policy, "target_tracking_scaling_policy_configuration")
    spec = block(tracking, "customized_metric_specification")
    (per_stream,) = spec["dynamic"]
    metric = block(block(block(per_stream["metrics"], "content"), "metric_stat"), "metric")
    assert (metric["namespace"], metric["metric_name"]) == (
        "AWS/Kinesis",
        "GetRecords.IteratorAgeMilliseconds",
    )
    assert per_stream["metrics"]["for_each"] == "${var.stream_names}"
    # The autoscaling owns the consumers' count.
    consumer = services.of_type("aws_ecs_service")["role"]
    assert "desired_count" in block(consumer, "lifecycle")["ignore_changes"][0]
    assert tf["example"].modules["services"]["shard_count"] == "${module.stream.shard_count}"


def test_the_database_is_encrypted_private_with_a_managed_password(
    tf: dict[str, Config],
) -> None:
    database = tf["database"]
    rds = database.of_type("aws_db_instance")["state"]
    assert rds["storage_encrypted"] is True
    assert rds["kms_key_id"] == "${var.kms_key_arn}"
    assert rds["publicly_accessible"] is False
    assert rds["manage_master_user_password"] is True
    assert "password" not in rds
    assert rds["deletion_protection"] == "${var.deletion_protection}"
    assert rds["backup_retention_period"] == "${var.backup_retention_days}"
    assert database.variables["deletion_protection"]["default"] is True
    # Or none at all: an existing database.
    assert database.locals["create"] == "${var.existing_database == null}"
    assert rds["count"] == "${local.create ? 1 : 0}"
    assert tf["example"].modules["database"]["existing_database"] == "${var.existing_database}"


def test_secrets_reach_containers_only_as_ecs_secrets(tf: dict[str, Config]) -> None:
    services = tf["services"]
    (definitions,) = services.of_type("aws_ecs_task_definition").values()
    containers = definitions["container_definitions"]
    # One plain environment for every role, the secrets per role.
    assert "environment = [for name, value in local.environment :" in containers
    assert "secrets = [for name, arn in each.value.secrets : {name = name, valueFrom = arn}]" in (
        containers
    )
    # libpq's PGPASSWORD from the JSON key of RDS's managed secret; the API keys, API only.
    assert services.locals["secrets"] == {
        "PGPASSWORD": "${var.database_password_secret_arn}:password::"
    }
    assert services.locals["api_secrets"] == {"EVENTLAKE_API_KEYS": "${var.api_keys_secret_arn}"}
    roles = services.locals["roles"]
    assert [r for r, v in roles.items() if "local.api_secrets" in v["secrets"]] == ["api"]
    assert all("local.secrets" in v["secrets"] for v in roles.values())
    # No secret among the plain settings: the module's own, the environment's, the variable's.
    for environment in (services.locals["environment"], tf["example"].locals["environment"]):
        names = re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", environment)
        assert "EVENTLAKE_STATE_URL" in names or "COLUMNS" in names
        assert not [n for n in names if SECRET_NAME.search(n)], names
    for folder, variable in (("services", "environment"), ("example", "extra_environment")):
        (check,) = tf[folder].variables[variable]["validation"]
        assert "password|secret|api_keys|token|webhook" in check["condition"], folder
    # No secret value in Terraform (or its state): values are put into the secrets outside it.
    for name, config in tf.items():
        assert not config.of_type("aws_secretsmanager_secret_version"), name


def test_containers_are_read_only_non_root_and_log_to_their_group(tf: dict[str, Config]) -> None:
    services = tf["services"]
    (definitions,) = services.of_type("aws_ecs_task_definition").values()
    containers = definitions["container_definitions"]
    assert "readonlyRootFilesystem = true" in containers
    assert "user = local.user" in containers
    assert services.locals["user"] == "10001:10001"  # the Dockerfile's USER, not root
    assert "privileged = false" in containers
    assert 'logDriver = "awslogs"' in containers
    assert "awslogs-group = var.log_group_names[each.key]" in containers
    assert definitions["requires_compatibilities"] == ["FARGATE"]
    assert definitions["execution_role_arn"] == "${var.execution_role_arn}"
    assert definitions["task_role_arn"] == "${var.task_role_arns[each.key]}"
    # The lake-commit alarm counts whole lines: Rich must not wrap them at 80 columns.
    assert 'COLUMNS = "1000"' in services.locals["environment"]
    # Private tasks, no public address.
    for name, service in services.of_type("aws_ecs_service").items():
        assert block(service, "network_configuration")["assign_public_ip"] is False, name


def test_every_log_group_has_retention_and_a_key(tf: dict[str, Config]) -> None:
    groups = [
        (name, group)
        for name, config in tf.items()
        for group in config.of_type("aws_cloudwatch_log_group").values()
    ]
    assert {name for name, _ in groups} >= {"monitoring", "airflow"}
    for name, group in groups:
        assert re.fullmatch(r"\$\{var\.\w+\}", str(group.get("retention_in_days"))), name
        assert group["kms_key_id"] == "${var.kms_key_arn}", name


def matches(pattern: str, line: str) -> bool:
    """A CloudWatch Logs term pattern: every "term" in the line, or any ?term."""
    terms = re.findall(r'(\??)"([^"]*)"|(\??)(\S+)', pattern)
    required = [t[1] or t[3] for t in terms if not (t[0] or t[2])]
    optional = [t[1] or t[3] for t in terms if t[0] or t[2]]
    return all(t in line for t in required) and (not optional or any(t in line for t in optional))


def test_the_alarms_the_readme_recommends(tf: dict[str, Config]) -> None:
    monitoring = tf["monitoring"]
    alarms = monitoring.of_type("aws_cloudwatch_metric_alarm")
    assert set(alarms) == {"iterator_age", "lag_growing", "no_commit", "run_failed", "api_5xx_rate"}
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == "${local.alarm_actions}", name
        # A metric-math alarm alarms on exactly one query: every other says return_data = false
        # (the API's default is true).
        flags = [q.get("return_data") for q in alarm.get("metric_query", [])]
        if flags:
            assert sorted(flags) == [False] * (len(flags) - 1) + [True], name
    assert monitoring.locals["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    topic = monitoring.of_type("aws_sns_topic")["alarms"]
    assert topic["kms_master_key_id"] == "${var.kms_key_arn}"
    age = alarms["iterator_age"]
    assert age["metric_name"] == "GetRecords.IteratorAgeMilliseconds"
    assert age["treat_missing_data"] == "breaching"  # no reader at all is the worst lag
    growing = {q["id"]: q for q in alarms["lag_growing"]["metric_query"]}
    assert growing["growth"]["expression"] == "RATE(age)"
    assert alarms["no_commit"]["comparison_operator"] == "LessThanThreshold"
    assert alarms["no_commit"]["evaluation_periods"] == "${var.no_commit_minutes}"
    rate = {q["id"]: q for q in alarms["api_5xx_rate"]["metric_query"]}
    assert "target5xx" in rate["rate"]["expression"]
    assert "requests" in rate["rate"]["expression"]
    assert block(rate["target5xx"], "metric")["metric_name"] == "HTTPCode_Target_5XX_Count"


def test_the_log_alarms_match_lines_the_code_prints(tf: dict[str, Config]) -> None:
    filters = tf["monitoring"].of_type("aws_cloudwatch_log_metric_filter")
    src = PROJECT_ROOT / "src" / "eventlake"
    # A commit, as `eventlake consume` prints it (cli/consume.py), and one already landed.
    consume = (src / "cli" / "consume.py").read_text()
    assert "{batch.landed:,} landed, " in consume
    assert 'f"snapshot {batch.snapshot_id}"' in consume
    commit = filters["lake_commits"]["pattern"]
    assert block(filters["lake_commits"], "metric_transformation")["name"] == "LakeCommits"
    line = "events: 3 records, 250 events → 249 landed, 1 rejected, 0 duplicates in 0.41 s"
    assert matches(commit, f"{line} (snapshot 8822917329162737)")
    assert not matches(commit, f"{line} (already in the lake)")
    # A failed run: the API's log line (pipeline/runs.py), a failed `eventlake task` on ECS
    # (cli/common.py's fail), an uncaught exception.
    runs = (src / "pipeline" / "runs.py").read_text()
    assert 'log.exception("pipeline run %s (%s) failed", run_id, name)' in runs
    assert matches(filters["runs_failed_api"]["pattern"], "pipeline run 0b9e (transform) failed")
    assert not matches(filters["runs_failed_api"]["pattern"], "health check stream failed: x")
    common = (src / "cli" / "common.py").read_text()
    assert 'err_console.print(f"[bold red]Error:[/] {escape(message)}"' in common
    batch = filters["runs_failed_batch"]["pattern"]
    assert matches(batch, "Error: run_dbt failed: 2 dbt tests failed")
    assert matches(batch, "Traceback (most recent call last):")
    assert not matches(batch, '{"models_built": 12}')


def test_every_variable_is_described_and_typed(tf: dict[str, Config]) -> None:
    for name, config in tf.items():
        assert config.variables, name
        for variable, body in config.variables.items():
            assert body.get("description", "").strip(), f"{name}: {variable}"
            assert body.get("type"), f"{name}: {variable}"


# Variables whose wrong value would fail late (at apply, or worse, at run time) if no
# validation caught it at plan.
VALIDATED = {
    "example": {
        "region",
        "name_prefix",
        "vpc_id",
        "private_subnet_ids",
        "public_subnet_ids",
        "certificate_arn",
        "image_tag",
        "image",
        "stream_mode",
        "shard_count",
        "stream_retention_hours",
        "existing_database",
        "api_ingress_cidrs",
        "dashboard_ingress_cidrs",
        "extra_environment",
        "snowflake",
        "log_retention_days",
        "alarm_emails",
        "airflow_mode",
    },
    "stream": {"name_prefix", "datasets", "stream_mode", "shard_count", "retention_hours"},
    "lake": {"bucket_name", "glue_database_name", "dead_letter_expiration_days"},
    "database": {"existing_database", "subnet_ids", "backup_retention_days", "engine_version"},
    "services": {"environment", "task_role_arns"},
    "monitoring": {"log_retention_days", "roles", "no_commit_minutes"},
    "airflow": {"airflow_mode", "airflow_version", "private_subnet_ids"},
}


def test_validation_blocks(tf: dict[str, Config]) -> None:
    for name, variables in VALIDATED.items():
        for variable in sorted(variables):
            checks = tf[name].variables[variable].get("validation", [])
            assert checks, f"{name}: {variable} has no validation"
            for check in checks:
                assert check["condition"], f"{name}: {variable}"
                assert check["error_message"], f"{name}: {variable}"


def test_the_example_outputs(tf: dict[str, Config]) -> None:
    outputs = tf["example"].outputs
    for name in (
        "api_url",
        "dashboard_url",
        "stream_names",
        "lake_bucket",
        "glue_database",
        "rds_endpoint",
        "ecr_repository_url",
        "image",
        "mwaa_webserver_url",
        "airflow_ecs_environment",
    ):
        assert outputs[name]["description"], name
        assert outputs[name]["value"].startswith("${"), name


def test_the_example_environment_calls_every_module(tf: dict[str, Config]) -> None:
    modules = tf["example"].modules
    folders = sorted(p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
    assert sorted(modules) == folders
    for name, call in modules.items():
        assert call["source"] == f"../../modules/{name}", name
    assert set(ALL_MODULES) <= set(folders)
    # Every argument is a variable of its module, and every variable without a default is set.
    for name, call in modules.items():
        if name not in tf:
            continue
        variables = tf[name].variables
        arguments = set(call) - {"source"}
        assert arguments <= set(variables), f"{name}: {sorted(arguments - set(variables))}"
        required = {v for v, body in variables.items() if "default" not in body}
        assert required <= arguments, f"{name}: {sorted(required - arguments)} not set"


def test_the_iam_call_uses_the_agreed_interface(tf: dict[str, Config]) -> None:
    call = tf["example"].modules["iam"]
    agreed = {
        "name_prefix",
        "stream_arns",
        "kms_key_arn",
        "lake_bucket_arn",
        "lake_prefix",
        "landing_bucket_arn",
        "landing_prefix",
        "glue_database_name",
        "region",
        "account_id",
        "secret_arns",
        "log_group_arns",
        "ecs_cluster_arn",
        "batch_task_definition_family",
        "mwaa_source_bucket_arn",
        "mwaa_environment_name",
    }
    assert agreed <= set(call)
    # The batch family MWAA may run is the one the services module names its task after.
    family = call["batch_task_definition_family"]
    assert tf["example"].modules["services"]["batch_task_family"] == family
    roles = tf["example"].modules["services"]["task_role_arns"]
    assert roles == {
        "api": "${module.iam.api_task_role_arn}",
        "consumer": "${module.iam.consumer_task_role_arn}",
        "dashboard": "${module.iam.dashboard_task_role_arn}",
        "batch": "${module.iam.batch_task_role_arn}",
    }


def test_mwaa_gets_the_dags_and_the_ecs_settings(tf: dict[str, Config]) -> None:
    airflow = tf["airflow"]
    mwaa = airflow.of_type("aws_mwaa_environment")["this"]
    assert mwaa["count"] == "${local.create ? 1 : 0}"
    assert airflow.locals["create"] == '${var.airflow_mode == "mwaa"}'
    assert mwaa["dag_s3_path"] == "dags/"
    assert mwaa["startup_script_s3_path"] == "${aws_s3_object.startup[0].key}"
    assert mwaa["requirements_s3_path"] == "${aws_s3_object.requirements[0].key}"
    assert "local.ecs_environment" in airflow.of_type("aws_s3_object")["startup"]["content"]
    # Every variable dags/app_env.py reads, with the value it expects for ECS.
    app_env = (PROJECT_ROOT / "dags" / "app_env.py").read_text()
    read = set(re.findall(r"EVENTLAKE_ECS_[A-Z_]+", app_env)) | {"EVENTLAKE_AIRFLOW_TASKS"}
    exported = airflow.locals["ecs_environment"]
    assert set(exported) == read
    assert exported["EVENTLAKE_AIRFLOW_TASKS"] == "ecs"
    assert tf["example"].modules["airflow"]["dags_dir"] == "${local.repo_root}/dags"
    assert (PROJECT_ROOT / "dags").is_dir()


def test_checkov_skips_say_why() -> None:
    skips = [
        line.strip()
        for path in sorted(TERRAFORM.rglob("*.tf"))
        for line in path.read_text().splitlines()
        if "checkov:skip" in line
    ]
    assert skips
    for skip in skips:
        assert re.fullmatch(r"#checkov:skip=CKV2?_AWS_\d+: \S.{20,}", skip), skip


def test_docs_list_every_variable_of_the_example(tf: dict[str, Config]) -> None:
    docs = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    listed = set(re.findall(r"^\| `(\w+)` \|", docs, flags=re.MULTILINE))
    assert set(tf["example"].variables) <= listed, sorted(set(tf["example"].variables) - listed)
