"""AWS for tests: moto's standalone server, spoken to over real HTTP.

Our rule: AWS code paths are tested against a moto *server* started by the tests (the real
boto3/pyarrow wire protocol), never with moto's in-process ``mock_aws`` patching. The fixtures
in ``tests/conftest.py`` start one server per session (``moto_server``) and give each test its
own names (``aws_env``).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlake.config import GlueCatalogSettings, LakeSettings, Settings
from tests.ports import free_port

REGION = "us-east-1"
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # moto accepts any credentials  # noqa: S105 — a fixture's fake secret
START_TIMEOUT_S = 20.0
MOTO_LAUNCHER = Path(__file__).with_name("moto_server.py")


@dataclass
class MotoServer:
    """A running moto server (``tests/moto_server.py``) on a loopback port."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _answers(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=0.5) as resp:  # noqa: S310 — the local moto server's http URL
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_moto_server(log_path: Path, timeout_s: float = START_TIMEOUT_S) -> MotoServer:
    """Start moto's server on a free port and wait until it answers HTTP.

    Raises ``RuntimeError`` with the server's log if it exits or does not answer in time.
    """
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            # moto's server with Kinesis's reshard semantics (MOTO_LAUNCHER says what and why).
            [sys.executable, str(MOTO_LAUNCHER), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = MotoServer(endpoint_url=endpoint_url, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if _answers(endpoint_url):
            return server
        time.sleep(0.1)
    exit_code = process.poll()
    server.stop()
    what = (
        f"exited with code {exit_code}"
        if exit_code is not None
        else f"did not answer within {timeout_s:.0f} s"
    )
    log_text = log_path.read_text(errors="replace")[-4000:]
    raise RuntimeError(f"moto server on {endpoint_url} {what}; its log ({log_path}):\n{log_text}")


@dataclass(frozen=True)
class AwsEnv:
    """Per-test view of the moto server: endpoint, credentials and fresh resource names.

    Isolation is by unique names, not by resetting moto: every test gets its own bucket and
    Glue database, so tests never see each other's state and could even run in parallel.
    """

    endpoint_url: str
    region: str
    bucket: str
    database: str

    @classmethod
    def fresh(cls, endpoint_url: str) -> AwsEnv:
        suffix = uuid.uuid4().hex[:12]
        return cls(
            endpoint_url=endpoint_url,
            region=REGION,
            bucket=f"eventlake-test-{suffix}",
            database=f"eventlake_test_{suffix}",
        )

    @property
    def warehouse(self) -> str:
        return f"s3://{self.bucket}/warehouse"

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` pointed at the moto server."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def glue_catalog_properties(self) -> dict[str, str]:
        """pyiceberg properties for a Glue catalog with S3 (PyArrowFileIO) storage on moto."""
        return {
            "type": "glue",
            "warehouse": self.warehouse,
            "glue.endpoint": self.endpoint_url,
            "glue.region": self.region,
            "glue.access-key-id": ACCESS_KEY_ID,
            "glue.secret-access-key": SECRET_ACCESS_KEY,
            "s3.endpoint": self.endpoint_url,
            "s3.region": self.region,
            "s3.access-key-id": ACCESS_KEY_ID,
            "s3.secret-access-key": SECRET_ACCESS_KEY,
        }


def aws_settings(aws: AwsEnv, home: object) -> Settings:
    """eventlake's settings for a Glue catalog and S3 lake on this moto server."""
    return Settings.model_validate(
        {
            "home": home,
            "lake": LakeSettings(
                namespace=aws.database,
                catalog=GlueCatalogSettings(
                    kind="glue",
                    warehouse=aws.warehouse,
                    region=aws.region,
                    glue_endpoint=aws.endpoint_url,
                    s3_endpoint=aws.endpoint_url,
                ),
            ),
        }
    )
