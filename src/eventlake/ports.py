"""Loopback ports for the servers eventlake starts (the API and the dashboard of
``eventlake run --serve``, the load test's API) and that its tests start (moto, fakesnow,
Airflow, Streamlit, PostgreSQL): the one place that probes for a free port."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; a race with another process is
    possible but the servers started on it fail loudly on a taken port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def preferred_port(port: int) -> int:
    """``port`` when nothing holds it on loopback, else a free one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port
