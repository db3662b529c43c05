"""Loopback ports for the servers tests start (moto, fakesnow, the API, Airflow, Streamlit):
the package's own helper, so there is one."""

from eventlake.ports import free_port

__all__ = ["free_port"]
