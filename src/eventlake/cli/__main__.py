"""``python -m eventlake.cli``: how the child processes of ``eventlake run`` start commands."""

from eventlake.cli import app

app()
