"""POST /api/v1/trigger/{pipeline} with Airflow configured: a DAG run through Airflow's REST
API, followed by /status. Against a real Airflow 3 API server (its own environment,
`.venv-airflow`, `make airflow-setup`), with the repository's DAGs serialized into its database;
no scheduler runs, so the runs stay queued until the test moves them."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from eventlake.api.auth import local_api_key
from eventlake.config import PROJECT_ROOT, AirflowSettings, Settings
from eventlake.state import StateStore
from tests.ports import free_port

pytestmark = pytest.mark.slow

AIRFLOW = PROJECT_ROOT / ".venv-airflow" / "bin" / "airflow"
USER, PASSWORD = "eventlake", "s3cret-airflow-pass"


@dataclass
class AirflowServer:
    url: str

    def token(self) -> str:
        answer = httpx.post(
            f"{self.url}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=10
        )
        return str(answer.json()["access_token"])

    def runs(self, dag_id: str) -> list[dict[str, object]]:
        answer = httpx.get(
            f"{self.url}/api/v2/dags/{dag_id}/dagRuns",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=10,
        )
        return list(answer.json()["dag_runs"])

    def set_state(self, dag_id: str, dag_run_id: str, state: str) -> None:
        answer = httpx.patch(
            f"{self.url}/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}",
            json={"state": state},
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    if not AIRFLOW.exists():
        pytest.fail(f"no Airflow environment at {AIRFLOW.parent.parent}: run `make airflow-setup`")
    home = tmp_path_factory.mktemp("airflow-home")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    for step in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run(
            [str(AIRFLOW), *step], env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    port = free_port()
    with (home / "api-server.log").open("wb") as log:
        server = subprocess.Popen(
            [str(AIRFLOW), "api-server", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (home / "api-server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Airflow's API server did not start"
            time.sleep(1)
        yield AirflowServer(url)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def _airflow_settings(url: str, password: str = PASSWORD) -> Settings:
    base = Settings()
    return base.model_copy(
        update={"airflow": AirflowSettings(url=url, username=USER, password=password)}
    )


def test_a_trigger_starts_a_dag_run_in_airflow_and_status_follows_it(
    airflow_server: AirflowServer, make_client: Callable[..., TestClient]
) -> None:
    settings = _airflow_settings(airflow_server.url)
    client = make_client(settings)
    auth = {"X-API-Key": local_api_key(settings)}
    started = client.post("/api/v1/trigger/transform", headers=auth)
    assert started.status_code == 202, started.text
    status_url = started.json()["status_url"]

    runs = airflow_server.runs("dag_dbt_transform")
    assert len(runs) == 1
    assert runs[0]["conf"] == {"eventlake_run_id": started.json()["run_id"]}
    assert client.get(status_url, headers=auth).json()["status"] == "queued"

    airflow_server.set_state("dag_dbt_transform", str(runs[0]["dag_run_id"]), "failed")
    followed = client.get(status_url, headers=auth).json()
    assert followed["status"] == "failed"

    # process is not a DAG: it still runs in the API's process.
    local = client.post("/api/v1/trigger/process", headers=auth)
    assert local.status_code == 202
    assert airflow_server.runs("dag_data_pipeline") == []


def test_airflow_refusing_the_credentials_is_a_503_and_a_failed_run(
    airflow_server: AirflowServer, make_client: Callable[..., TestClient]
) -> None:
    settings = _airflow_settings(airflow_server.url, password="wrong")  # noqa: S106 — a fixture's fake secret
    client = make_client(settings)
    auth = {"X-API-Key": local_api_key(settings)}
    answer = client.post("/api/v1/trigger/pipeline", headers=auth)
    assert answer.status_code == 503
    assert "Airflow answered 401" in answer.text
    assert "wrong" not in answer.text  # the password is never echoed
    state = StateStore(settings.state_database_url)
    try:
        (run,) = state.recent_jobs(kind="run")
    finally:
        state.close()
    assert (run["name"], run["status"]) == ("pipeline", "failed")
    assert "401" in run["error"]
    assert airflow_server.runs("dag_data_pipeline") == []
