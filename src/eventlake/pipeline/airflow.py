"""Start and follow DAG runs through Airflow's REST API (Airflow 3: `/api/v2`, JWT tokens).

When `EVENTLAKE_AIRFLOW__URL` is set, `POST /api/v1/trigger/{pipeline}` starts the pipeline's
DAG (its `dag_id` in `pipelines.py`) in Airflow instead of running it in the API's process; the
run's job row keeps the DAG run's id, and `GET /api/v1/status/{run_id}` asks Airflow where it
is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from eventlake.config import AirflowSettings
from eventlake.errors import EventlakeError

# Airflow's DAG run states, as eventlake's run statuses.
STATES = {
    "queued": "queued",
    "running": "running",
    "success": "succeeded",
    "failed": "failed",
}
FINAL = frozenset({"succeeded", "failed"})


class AirflowError(EventlakeError, RuntimeError):
    """Airflow could not be reached or refused the request."""


@dataclass
class AirflowClient:
    settings: AirflowSettings
    timeout: float = 10.0
    _token: str | None = field(default=None, init=False, repr=False)
    _token_at: float = field(default=0.0, init=False, repr=False)

    @property
    def base_url(self) -> str:
        assert self.settings.url is not None  # noqa: S101 — narrows the type for mypy; holds by construction
        return self.settings.url.rstrip("/")

    def _headers(self) -> dict[str, str]:
        # Tokens last 24 h by default; asking again every 10 minutes keeps clear of expiry.
        if self._token is None or time.monotonic() - self._token_at > 600:
            password = self.settings.password.get_secret_value() if self.settings.password else ""
            response = self._call(
                "POST",
                "/auth/token",
                json={"username": self.settings.username, "password": password},
                authorized=False,
            )
            self._token = str(response["access_token"])
            self._token_at = time.monotonic()
        return {"Authorization": f"Bearer {self._token}"}

    def _call(
        self, method: str, path: str, *, json: Any = None, authorized: bool = True
    ) -> dict[str, Any]:
        headers = self._headers() if authorized else {}
        try:
            response = httpx.request(
                method, self.base_url + path, json=json, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as error:
            raise AirflowError(f"Airflow at {self.base_url} did not answer: {error}") from error
        if response.status_code >= 400:
            raise AirflowError(
                f"Airflow answered {response.status_code} to {method} {path}: {response.text[:300]}"
            )
        body: dict[str, Any] = response.json()
        return body

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """A new run of ``dag_id``; its dag_run_id."""
        run = self._call(
            "POST",
            f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns",
            json={"logical_date": None, "conf": conf},
        )
        return str(run["dag_run_id"])

    def state(self, dag_id: str, dag_run_id: str) -> str:
        """The run's state as an eventlake run status (queued, running, succeeded, failed)."""
        run = self._call(
            "GET",
            f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(dag_run_id, safe='')}",
        )
        return STATES.get(str(run.get("state")), "running")
