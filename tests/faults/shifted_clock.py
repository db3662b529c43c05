"""``python -m tests.faults.shifted_clock OFFSET_FILE ARGS...``: ``eventlake ARGS...`` in a
process whose wall clock is off by the seconds written in OFFSET_FILE, read again at most
every 0.1 s, so that a test moves it while the process runs (an NTP step, a VM restored from a
snapshot, a clock set by hand).

What moves is the wall clock as Python code reads it (``time.time``, ``time.time_ns``):
what the lease expiry, the windows' and the commits' records are stamped with.
``time.monotonic`` does not move (it never does with the wall clock), nor do the C libraries'
own clocks. Debian's libfaketime would move those too, but its 0.9.10 breaks Python's
``time.sleep`` (EINVAL from ``clock_nanosleep`` when the monotonic clock is left real, a hang
when it is not).
"""

from __future__ import annotations

import contextlib
import runpy
import sys
import time
from pathlib import Path

REREAD_S = 0.1


class ShiftedClock:
    def __init__(self, offset_file: Path) -> None:
        self.offset_file = offset_file
        self.real_time = time.time
        self.real_time_ns = time.time_ns
        self.offset = 0.0
        self.read_at = -REREAD_S

    def _offset(self) -> float:
        now = time.monotonic()
        if now - self.read_at >= REREAD_S:
            self.read_at = now
            with contextlib.suppress(OSError, ValueError):  # mid-write: the last one stands
                self.offset = float(self.offset_file.read_text().strip() or 0)
        return self.offset

    def time(self) -> float:
        return self.real_time() + self._offset()

    def time_ns(self) -> int:
        return self.real_time_ns() + int(self._offset() * 1e9)


def main() -> None:
    clock = ShiftedClock(Path(sys.argv[1]))
    time.time = clock.time
    time.time_ns = clock.time_ns
    sys.argv = ["eventlake", *sys.argv[2:]]
    runpy.run_module("eventlake.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
