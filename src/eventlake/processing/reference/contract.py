"""What the reference needs of a contract beyond :mod:`eventlake.contracts`: how an enum value
is normalised (``contract.rs``'s ``normalize_enum``)."""

from __future__ import annotations

# Interpretation: "ASCII whitespace" is space, tab, LF, FF, CR (WHATWG; Rust's
# u8::is_ascii_whitespace); vertical tab is not whitespace. Lowercasing maps A-Z only.
_ASCII_WS = " \t\n\x0c\r"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _normalize_enum(value: str) -> str:
    return value.strip(_ASCII_WS).translate(_ASCII_LOWER)
