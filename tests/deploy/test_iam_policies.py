"""Least privilege, derived from the code: each task role's policy in
deploy/terraform/modules/iam grants exactly the AWS calls its process makes.

Each role's real code runs against a moto server of this module's own that records every
signed request (tests/moto_server.py, ``EVENTLAKE_TEST_MOTO_CALLS``), under an access key id
of the role's (tests/deploy/role_runs.py). The calls become IAM actions on resources
(tests/deploy/aws_calls.py), and the module's policies, read from its HCL with the test's
names as inputs (tests/deploy/policies.py), must

- allow every one of them, on the resource it touched (the stream, the table, the lake's or the
  landing's prefix), and
- grant nothing else: every (statement, action) pair is used by some call, or is in
  NOT_EXERCISED below with the reason moto cannot show it;
- never a wildcard action, and a wildcard resource only where listed with its reason.

The execution role and MWAA's are not code we run: their statements are checked against the
documented lists EXECUTION_ACTIONS and MWAA_ACTIONS.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.aws import MotoServer, start_moto_server
from tests.deploy import aws_calls, policies, role_runs
from tests.deploy.aws_calls import Need
from tests.deploy.policies import Module, Statement
from tests.deploy.role_runs import ACCOUNT_ID, REGION, ROLE_KEYS, Deployment
from tests.moto_server import CALLS_FILE

KMS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
TASK_ROLES = tuple(ROLE_KEYS)  # api, consumer, batch, dashboard

# Granted but not called in this run: (statement sid, action) -> why the code needs it.
NOT_EXERCISED: dict[str, dict[tuple[str, str], str]] = {
    "api": {},
    "consumer": {
        ("ReadTheStreams", "kinesis:PutRecords"): "after a split, a child shard forwards its "
        "sibling's keys to their owner (consumer/records.py); needs a reshard with an API's "
        "stale shard map",
    },
    "batch": {
        ("LakeCatalog", "glue:CreateTable"): "process_with_rust and ingest_data's dead-letter "
        "commit create a dataset's table when no consumer has yet (a fresh deployment); here "
        "the consumer ran first",
        ("LakeFiles", "s3:DeleteObject"): "the writer deletes its files after losing a commit "
        "race to a consumer (lake/writer.py, _commit_files), as compaction does when its "
        "commit fails (lake/maintenance.py); shown for the consumer's role, not here",
    },
    "dashboard": {},
}

# The one wildcard resource "*" allowed, by action: these have no resource-level permissions.
STAR_RESOURCE: dict[str, str] = {
    "ecr:GetAuthorizationToken": "ECR's login token is per registry, not per repository",
    "s3:GetAccountPublicAccessBlock": "an account-level setting MWAA checks: no resource ARN",
    "logs:DescribeLogGroups": "MWAA lists log groups: no resource-level permission",
    "cloudwatch:PutMetricData": "MWAA's metrics: PutMetricData has no resource ARN",
}

# The ECS task execution role: what ECS itself does for a task (not our code).
EXECUTION_ACTIONS = {
    "ecr:GetAuthorizationToken": "log in to ECR to pull the image",
    "ecr:BatchCheckLayerAvailability": "pull the image's layers",
    "ecr:GetDownloadUrlForLayer": "pull the image's layers",
    "ecr:BatchGetImage": "pull the image's manifest",
    "logs:CreateLogStream": "the awslogs driver: a stream per task",
    "logs:PutLogEvents": "the awslogs driver: the container's output",
    "secretsmanager:GetSecretValue": "ECS secrets: PGPASSWORD and EVENTLAKE_API_KEYS",
    "kms:Decrypt": "the secrets are encrypted with the deployment's key",
}
# MWAA's execution role: MWAA's documented set, plus running the batch tasks on ECS
# (https://docs.aws.amazon.com/mwaa/latest/userguide/mwaa-create-role.html).
MWAA_ACTIONS = {
    "airflow:PublishMetrics": "MWAA publishes the environment's health metrics",
    "s3:GetBucketLocation": "MWAA reads its source bucket",
    "s3:GetBucketPublicAccessBlock": "MWAA refuses a public source bucket",
    "s3:GetAccountPublicAccessBlock": "MWAA refuses a public source bucket",
    "s3:GetBucketVersioning": "MWAA requires a versioned source bucket",
    "s3:ListBucket": "the DAGs folder is synced from the source bucket",
    "s3:GetObject": "the DAGs, requirements and startup script",
    "s3:GetObjectVersion": "requirements and plugins are pinned by object version",
    "logs:CreateLogGroup": "Airflow's airflow-NAME-* log groups",
    "logs:CreateLogStream": "Airflow's logs",
    "logs:PutLogEvents": "Airflow's logs",
    "logs:GetLogEvents": "Airflow's UI shows task logs; the ECS operator copies the batch "
    "task's log",
    "logs:GetLogRecord": "Airflow's UI reads its logs",
    "logs:GetLogGroupFields": "Airflow's UI reads its logs",
    "logs:GetQueryResults": "Airflow's UI reads its logs",
    "logs:DescribeLogGroups": "MWAA checks its log groups",
    "cloudwatch:PutMetricData": "Airflow's StatsD metrics",
    "sqs:ChangeMessageVisibility": "Celery's queue (in an account of MWAA's)",
    "sqs:DeleteMessage": "Celery's queue",
    "sqs:GetQueueAttributes": "Celery's queue",
    "sqs:GetQueueUrl": "Celery's queue",
    "sqs:ReceiveMessage": "Celery's queue",
    "sqs:SendMessage": "Celery's queue",
    # The environment is encrypted with the deployment's key (MWAA's customer-managed-key
    # policy), used only through SQS and S3 (a kms:ViaService condition).
    "kms:Decrypt": "Celery's queue and the source bucket, encrypted with the deployment's key",
    "kms:DescribeKey": "MWAA checks the environment's key",
    "kms:Encrypt": "Celery's queue messages",
    "kms:GenerateDataKey": "Celery's queue messages",
    "ecs:RunTask": "EcsRunTaskOperator: a DAG task as an ECS task of the batch family",
    "ecs:DescribeTasks": "EcsRunTaskOperator waits for the task and reads its exit code",
    "ecs:StopTask": "EcsRunTaskOperator stops the ECS task when its Airflow task is killed",
    "iam:PassRole": "RunTask passes the batch task role and the execution role",
}


def _wildcard_shapes(variables: dict[str, Any]) -> dict[str, str]:
    """Resource patterns with a wildcard that are as narrow as the resource allows."""
    region, account = variables["region"], variables["account_id"]
    mwaa_logs = (
        f"arn:aws:logs:{region}:{account}:log-group:airflow-{variables['mwaa_environment_name']}-*"
    )
    shapes = {
        f"{variables['lake_bucket_arn']}/{variables['lake_prefix']}/*": "the lake's files: "
        "Iceberg names its data and metadata files at run time, under the warehouse prefix",
        f"{variables['landing_bucket_arn']}/{variables['landing_prefix']}/*": "the landing "
        "files, any name, under the landing prefix",
        f"arn:aws:glue:{region}:{account}:table/{variables['glue_database_name']}/*": "the "
        "lake's tables, created from the data contracts at run time",
        f"{variables['mwaa_source_bucket_arn']}/*": "MWAA reads its whole source bucket",
        mwaa_logs: "MWAA's own log groups (Task, Worker, Scheduler, WebServer, DAGProcessing)",
        f"{mwaa_logs}:log-stream:*": "their streams",
        f"arn:aws:sqs:{region}:*:airflow-celery-*": "Celery's queue lives in an account of "
        "MWAA's, named by MWAA",
        f"arn:aws:ecs:{region}:{account}:task-definition/"
        f"{variables['batch_task_definition_family']}:*": "any revision of the batch family",
        f"arn:aws:ecs:{region}:{account}:task/*": "task ids are made by RunTask; the "
        "statement is held to the cluster by its ecs:cluster condition",
    }
    for arn in variables["log_group_arns"]:
        shapes[f"{arn}:log-stream:*"] = "a stream per task, named at run time"
    return shapes


# --- the checks (pure: the last test shows they fail as they should) ---------------------


def missing_grants(role: str, statements: list[Statement], needs: list[Need]) -> list[str]:
    problems = set()
    for need in needs:
        if not policies.allowed(statements, need.action, need.resource, dict(need.context)):
            context = f" with {dict(need.context)}" if need.context else ""
            problems.add(
                f"{role}: {need.action} on {need.resource}{context} is not granted "
                f"(the code calls {need.operation})"
            )
    return sorted(problems)


def unused_grants(role: str, statements: list[Statement], needs: list[Need]) -> list[str]:
    problems = []
    listed = NOT_EXERCISED.get(role, {})
    for statement in statements:
        if statement.effect != "Allow":
            continue
        for action in statement.actions:
            used = any(
                policies.covers(
                    replace(statement, actions=(action,)),
                    need.action,
                    need.resource,
                    dict(need.context),
                )
                for need in needs
            )
            if not used and (statement.sid, action) not in listed:
                problems.append(
                    f"{role}: {action} (statement {statement.sid or '?'}) is granted but the "
                    "code never calls it, and NOT_EXERCISED gives no reason"
                )
    return problems


def wildcards(role: str, statements: list[Statement], variables: dict[str, Any]) -> list[str]:
    problems = []
    shapes = _wildcard_shapes(variables)
    for statement in statements:
        for action in statement.actions:
            if "*" in action or "?" in action:
                problems.append(f"{role}: wildcard action {action!r} in {statement.sid}")
        for resource in statement.resources + statement.not_resources:
            if resource == "*":
                unlisted = [a for a in statement.actions if a not in STAR_RESOURCE]
                if unlisted:
                    problems.append(
                        f"{role}: resource '*' for {', '.join(unlisted)} in {statement.sid}"
                    )
            elif ("*" in resource or "?" in resource) and resource not in shapes:
                problems.append(f"{role}: wildcard resource {resource!r} in {statement.sid}")
    return problems


# --- fixtures ------------------------------------------------------------------------------


@dataclass
class Recorded:
    deployment: Deployment
    needs: dict[str, list[Need]]  # role -> what its calls needed
    variables: dict[str, Any]  # the IAM module's inputs for this deployment

    _module: Module | None = None

    def module(self) -> Module:
        """The IAM module read with this deployment's names (parsed once)."""
        if self._module is None:
            self._module = policies.load(self.variables)
        return self._module


@pytest.fixture(scope="module")
def recording_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, Path]]:
    """A moto server of this module's own, recording every signed call (the session's server
    is shared by other tests, whose calls would mix in)."""
    folder = tmp_path_factory.mktemp("iam-moto")
    calls = folder / "calls.jsonl"
    with pytest.MonkeyPatch.context() as patch:  # the server process inherits it, nobody else
        patch.setenv(CALLS_FILE, str(calls))
        server = start_moto_server(folder / "server.log")
    try:
        yield server, calls
    finally:
        server.stop()


@pytest.fixture(scope="module")
def recorded(
    recording_moto: tuple[MotoServer, Path], tmp_path_factory: pytest.TempPathFactory
) -> Recorded:
    server, calls = recording_moto
    suffix = uuid.uuid4().hex[:10]
    deployment = Deployment(
        endpoint_url=server.endpoint_url,
        name_prefix=f"iam{suffix}",
        lake_bucket=f"eventlake-lake-{suffix}",
        landing_bucket=f"eventlake-landing-{suffix}",
        database=f"eventlake_{suffix}",
        home=tmp_path_factory.mktemp("iam-roles"),
    )
    role_runs.set_up(deployment)
    for run in role_runs.ROLES.values():
        run(deployment)
    by_key = aws_calls.read_calls(calls)
    arns = aws_calls.Arns(
        REGION,
        ACCOUNT_ID,
        KMS_KEY_ARN,
        encrypted_buckets=frozenset({deployment.lake_bucket, deployment.landing_bucket}),
    )
    needs = {role: aws_calls.needs(by_key.get(key, []), arns) for role, key in ROLE_KEYS.items()}
    variables = {
        "name_prefix": f"eventlake-{suffix}",
        "stream_arns": [arns.stream(name) for name in deployment.stream_names()],
        "kms_key_arn": KMS_KEY_ARN,
        "lake_bucket_arn": f"arn:aws:s3:::{deployment.lake_bucket}",
        "lake_prefix": role_runs.LAKE_PREFIX,
        "landing_bucket_arn": f"arn:aws:s3:::{deployment.landing_bucket}",
        "landing_prefix": role_runs.LANDING_PREFIX,
        "glue_database_name": deployment.database,
        "region": REGION,
        "account_id": ACCOUNT_ID,
        "secret_arns": {
            "pgpassword": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:rds-master-AbC123",
            "api_keys": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:api-keys-DeF456",
        },
        "log_group_arns": [
            f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/eventlake/{name}"
            for name in ("api", "consumer", "batch", "dashboard")
        ],
        "ecs_cluster_arn": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/eventlake",
        "batch_task_definition_family": "eventlake-batch",
        "mwaa_source_bucket_arn": f"arn:aws:s3:::eventlake-mwaa-{suffix}",
        "mwaa_environment_name": "eventlake",
        "ecr_repository_arns": [f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/eventlake"],
    }
    return Recorded(deployment, needs, variables)


# --- the task roles: derived from their calls ----------------------------------------------


def test_each_role_ran_its_code(recorded: Recorded) -> None:
    """The runs made the calls they exist for (a run that silently did nothing would pass
    every check below)."""
    actions = {role: {n.action for n in needs} for role, needs in recorded.needs.items()}
    assert {"kinesis:PutRecords", "glue:GetDatabases"} <= actions["api"]
    assert {"kinesis:GetRecords", "glue:UpdateTable", "s3:PutObject", "s3:DeleteObject"} <= (
        actions["consumer"]
    )
    assert {"kinesis:PutRecords", "kinesis:GetRecords", "glue:GetTables", "s3:ListBucket"} <= (
        actions["batch"]
    )
    assert actions["dashboard"] == set(), "the dashboard called AWS: give its role a policy"


@pytest.mark.parametrize("role", TASK_ROLES)
def test_role_is_granted_every_call_its_code_makes(recorded: Recorded, role: str) -> None:
    module = recorded.module()
    assert module.trust[role] == ("ecs-tasks.amazonaws.com",)
    problems = missing_grants(role, module.statements(role), recorded.needs[role])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", TASK_ROLES)
def test_role_is_granted_nothing_its_code_does_not_call(recorded: Recorded, role: str) -> None:
    module = recorded.module()
    problems = unused_grants(role, module.statements(role), recorded.needs[role])
    # An allow-list entry whose grant is gone is stale: the list stays short and true.
    granted = {(s.sid, a) for s in module.statements(role) for a in s.actions}
    problems += [
        f"{role}: NOT_EXERCISED lists {entry} but the policy does not grant it"
        for entry in NOT_EXERCISED[role]
        if entry not in granted
    ]
    assert not problems, "\n".join(problems)


def test_no_wildcard_actions_and_only_reasoned_wildcard_resources(recorded: Recorded) -> None:
    module = recorded.module()
    problems = [
        problem
        for role in module.policies
        for problem in wildcards(role, module.statements(role), recorded.variables)
    ]
    assert not problems, "\n".join(problems)


# --- the roles we do not run: their documented lists ----------------------------------------


def _granted(statements: list[Statement]) -> set[str]:
    return {a for s in statements if s.effect == "Allow" for a in s.actions}


def _resources(statements: list[Statement], action: str) -> set[str]:
    return {r for s in statements if action in s.actions for r in s.resources}


def test_execution_role_pulls_logs_and_reads_the_given_secrets(recorded: Recorded) -> None:
    module, variables = recorded.module(), recorded.variables
    statements = module.statements("execution")
    assert module.trust["execution"] == ("ecs-tasks.amazonaws.com",)
    assert _granted(statements) == set(EXECUTION_ACTIONS)
    assert _resources(statements, "secretsmanager:GetSecretValue") == set(
        variables["secret_arns"].values()
    )
    assert _resources(statements, "ecr:BatchGetImage") == set(variables["ecr_repository_arns"])
    assert _resources(statements, "logs:PutLogEvents") == {
        f"{arn}:log-stream:*" for arn in variables["log_group_arns"]
    }
    assert _resources(statements, "kms:Decrypt") == {KMS_KEY_ARN}


def test_mwaa_role_runs_only_the_batch_tasks(recorded: Recorded) -> None:
    module, variables = recorded.module(), recorded.variables
    statements = module.statements("mwaa_execution")
    assert set(module.trust["mwaa_execution"]) == {
        "airflow.amazonaws.com",
        "airflow-env.amazonaws.com",
    }
    assert _granted(statements) == set(MWAA_ACTIONS)
    cluster = variables["ecs_cluster_arn"]
    family = variables["batch_task_definition_family"]
    run_task = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/{family}:3"
    assert policies.allowed(statements, "ecs:RunTask", run_task, {"ecs:cluster": cluster})
    other_cluster = {"ecs:cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/other"}
    assert not policies.allowed(statements, "ecs:RunTask", run_task, other_cluster)
    other_family = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/eventlake-api:1"
    assert not policies.allowed(statements, "ecs:RunTask", other_family, {"ecs:cluster": cluster})
    ecs = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    passable = {
        name
        for name, arn in module.role_arns.items()
        if policies.allowed(statements, "iam:PassRole", arn, ecs)
    }
    assert passable == {"batch", "execution"}
    task_logs = {f"{arn}:log-stream:*" for arn in variables["log_group_arns"]}
    assert task_logs <= _resources(statements, "logs:GetLogEvents")
    via = {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}
    assert policies.allowed(statements, "kms:GenerateDataKey", KMS_KEY_ARN, via)
    assert not policies.allowed(statements, "kms:GenerateDataKey", KMS_KEY_ARN, {})
    assert _resources(statements, "airflow:PublishMetrics") == {
        f"arn:aws:airflow:{REGION}:{ACCOUNT_ID}:environment/{variables['mwaa_environment_name']}"
    }


# --- the checks fail as they should ---------------------------------------------------------


def test_the_checks_catch_a_missing_action_and_a_wildcard(recorded: Recorded) -> None:
    """A policy without one of its actions fails naming the role and the action; one with
    "s3:*" fails as a wildcard action."""
    module = recorded.module()
    statements = module.statements("api")
    without_put = [
        replace(s, actions=tuple(a for a in s.actions if a != "kinesis:PutRecords"))
        for s in statements
    ]
    missing = missing_grants("api", without_put, recorded.needs["api"])
    assert missing
    assert all(m.startswith("api: kinesis:PutRecords on arn:aws:kinesis:") for m in missing)
    lake = f"{recorded.variables['lake_bucket_arn']}/*"
    with_star = [*statements, Statement("Everything", "Allow", ("s3:*",), (lake,), (), ())]
    problems = wildcards("api", with_star, recorded.variables)
    assert "api: wildcard action 's3:*' in Everything" in problems
    assert f"api: wildcard resource '{lake}' in Everything" in problems
    extra = [*statements, Statement("Extra", "Allow", ("glue:DeleteTable",), (lake,), (), ())]
    assert unused_grants("api", extra, recorded.needs["api"]) == [
        "api: glue:DeleteTable (statement Extra) is granted but the code never calls it, and "
        "NOT_EXERCISED gives no reason"
    ]


def test_recording_is_off_by_default(recording_moto: tuple[MotoServer, Path]) -> None:
    """Only this module's server records: its variable is gone from the environment once the
    server started, so the session's moto server (started later, by any test) does not."""
    assert CALLS_FILE not in os.environ
