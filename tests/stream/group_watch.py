"""Order threads around a ``GroupCommit`` without sleeping: know when a caller has queued."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from eventlake.group_commit import GroupCommit


class _WatchedQueue(deque[Any]):
    def __init__(self) -> None:
        super().__init__()
        self.queued = threading.Semaphore(0)

    def append(self, call: Any) -> None:
        super().append(call)
        self.queued.release()  # after the append, under the group's lock


def watch_queue(group: GroupCommit[Any, Any]) -> threading.Semaphore:
    """A semaphore released each time a caller joins ``group``'s queue (tests wait on it
    instead of sleeping and hoping the thread they started got there first)."""
    queue = _WatchedQueue()
    group._queue = queue  # white box: the queue is the group's only record of waiting callers
    return queue.queued
