"""The image's HEALTHCHECK: one check that fits whichever role the container runs.

The container's command (PID 1's arguments) names the role:

* ``serve``: GET /api/v1/health on the API's port (200: the stream, the catalog and the job
  database answer; 503 when one does not, which is unhealthy too).
* ``dashboard``: Streamlit's own /_stcore/health on its port (``eventlake dashboard`` execs
  Streamlit, so PID 1 is ``python -m streamlit run ... --server.port N``).
* ``consume``, ``transform``, ``quality`` and anything else: healthy while PID 1 runs (Docker
  runs the check only then). The consumer has no port; the other two are one-shot jobs whose
  exit code is their result.

Standard library only, so that it starts in milliseconds every interval.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_S = 4.0


def option(args: list[str], name: str, default: str) -> str:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in args, else default."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def health_url(args: list[str]) -> str | None:
    """The URL to probe for PID 1's arguments, or None for a role without one."""
    if "streamlit" in args:
        return f"http://127.0.0.1:{option(args, '--server.port', '8501')}/_stcore/health"
    if "serve" in args:
        return f"http://127.0.0.1:{option(args, '--port', '8000')}/api/v1/health"
    return None


def main() -> int:
    args = Path("/proc/1/cmdline").read_bytes().decode().split("\0")
    url = health_url(args)
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            print(f"{url}: {response.status}")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{url}: {exc.code} {exc.read().decode(errors='replace')[:500]}")
    except OSError as exc:
        print(f"{url}: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
