"""Hypothesis profiles: `make test` runs every property with its own number of examples (the
default profile); `make test-fast` (`--hypothesis-profile=fast`) runs a tenth of them, for the
edit-test loop. Both are registered when tests/conftest.py imports this module."""

from __future__ import annotations

from hypothesis import settings

FAST = "fast"
FAST_FRACTION = 10

settings.register_profile(FAST, max_examples=100 // FAST_FRACTION)


def examples(full: int) -> int:
    """A property's ``max_examples``: ``full`` under the default profile, a tenth under `fast`.

    An explicit ``@settings(max_examples=...)`` overrides any profile, so the properties that
    need more than Hypothesis's default ask for it through here. The profile is loaded (by
    Hypothesis's pytest plugin) before the test modules are imported."""
    fast = settings.default.max_examples == settings.get_profile(FAST).max_examples
    return max(full // FAST_FRACTION, 1) if fast else full
