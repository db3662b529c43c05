"""The session's throwaway PostgreSQL cluster (``tests/postgres.py``) for the state tests."""

from tests.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]
