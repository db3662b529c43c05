"""``with thing:`` for the things eventlake opens (the state store's engine, the warehouse
readers), at the bottom of the layers so every layer can use the one implementation."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class ClosesOnExit:
    """``with thing:`` gives it and closes it at the end of the block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
