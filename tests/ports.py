"""Loopback ports for the servers tests start (moto, fakesnow, the API, Airflow, Streamlit)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; a race with another process is
    possible but the servers tests start fail loudly on a taken port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
