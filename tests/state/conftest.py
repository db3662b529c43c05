"""The session's throwaway PostgreSQL cluster (``tests/postgres.py``) for the state tests."""

from tests.postgres import postgres_server

__all__ = ["postgres_server"]
