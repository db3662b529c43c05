"""JSON text: a checker that finds a value's extent and depth without recursion, a decoder that
notices duplicate keys and numbers no float holds, and compact re-encoding (``json/``)."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

MAX_DEPTH = 64
_JSON_WS = " \t\n\r"
_WS_RE = re.compile(r"[ \t\n\r]*")
_ESCAPE_RE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
# The iterative JSON checker's tokens (RFC 8259; the same language as Python's json module in
# strict mode, without NaN/Infinity).
_STRING_RE = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


class _MalformedError(ValueError):
    """Not valid JSON syntax."""


class _LiteralNumber(float):
    """A JSON number that a float or a Python int cannot hold (``1e400``, or an integer with
    more digits than ``sys.get_int_max_str_digits()``). Its float value is +-inf; ``text``
    keeps the literal so a json-typed field can store it as sent."""

    text: str
    is_int: bool

    def __new__(cls, text: str, is_int: bool) -> _LiteralNumber:
        self = super().__new__(cls, float(text))
        self.text = text
        self.is_int = is_int
        return self


class _TooDeep:
    """Marks a value nested too deeply for the recursive json decoder (its extent is known)."""


_TOO_DEEP = _TooDeep()


def _reject_constant(name: str) -> Any:
    raise _MalformedError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _LiteralNumber(text, is_int=False)


def _parse_int_any_size(text: str) -> int | float:
    limit = sys.get_int_max_str_digits()
    if limit and len(text.lstrip("-")) > limit:
        return _LiteralNumber(text, is_int=True)
    return int(text)


def _skip_ws(text: str, pos: int) -> int:
    match = _WS_RE.match(text, pos)
    assert match is not None  # noqa: S101 — the pattern matches the empty string
    return match.end()


def _end_without_ws(text: str, start: int) -> int:
    end = len(text)
    while end > start and text[end - 1] in _JSON_WS:
        end -= 1
    return end


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _expect_key(text: str, pos: int) -> int:
    """After ``{`` or ``,`` in an object: a string key, then ``:``; returns the position after."""
    pos = _skip_ws(text, pos)
    match = _STRING_RE.match(text, pos)
    if match is None:
        raise _MalformedError(f"expected an object key at character {pos}")
    pos = _skip_ws(text, match.end())
    if pos >= len(text) or text[pos] != ":":
        raise _MalformedError(f"expected ':' at character {pos}")
    return pos + 1


def _scan_json_value(text: str, pos: int) -> tuple[int, int]:
    """Check, without recursion, the JSON value that starts at ``pos``.

    Returns (end, depth): the position after the value and its nesting depth (objects and
    arrays; a scalar is 0). Raises ``_MalformedError``. Used where the recursive decoder
    cannot go (very deep values) and to measure the depth of values with many brackets.
    """
    closers: list[str] = []
    depth = 0
    n = len(text)
    while True:
        # A value is expected at pos.
        pos = _skip_ws(text, pos)
        if pos >= n:
            raise _MalformedError("unexpected end of the value")
        char = text[pos]
        if char == "{" or char == "[":
            closers.append("}" if char == "{" else "]")
            depth = max(depth, len(closers))
            pos = _skip_ws(text, pos + 1)
            if pos < n and text[pos] == closers[-1]:
                closers.pop()
                pos += 1
            elif char == "{":
                pos = _expect_key(text, pos)
                continue
            else:
                continue
        elif char == '"':
            match = _STRING_RE.match(text, pos)
            if match is None:
                raise _MalformedError(f"invalid string at character {pos}")
            pos = match.end()
        elif text.startswith("true", pos):
            pos += 4
        elif text.startswith("false", pos):
            pos += 5
        elif text.startswith("null", pos):
            pos += 4
        else:
            match = _NUMBER_RE.match(text, pos)
            if match is None:
                raise _MalformedError(f"expected a value at character {pos}")
            pos = match.end()
        # A value has ended: close containers, or go on to the next member.
        while True:
            if not closers:
                return pos, depth
            pos = _skip_ws(text, pos)
            if pos >= n:
                raise _MalformedError("unexpected end inside an array or object")
            char = text[pos]
            if char == closers[-1]:
                closers.pop()
                pos += 1
                continue
            if char != ",":
                raise _MalformedError(f"expected ',' or {closers[-1]!r} at character {pos}")
            pos += 1
            if closers[-1] == "}":
                pos = _expect_key(text, pos)
            break


def _nesting_exceeds_limit(text: str) -> bool:
    """Whether the (valid) JSON value in ``text`` nests objects/arrays deeper than MAX_DEPTH."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    _, depth = _scan_json_value(text, _skip_ws(text, 0))
    return depth > MAX_DEPTH


def _has_unpaired_surrogate(text: str) -> bool:
    r"""Whether the (valid) JSON text has a ``\uD800``-``\uDFFF`` escape that is not a high
    surrogate escape immediately followed by a low surrogate escape. In valid JSON a backslash
    only occurs inside strings, so scanning escapes left to right is exact."""
    if "\\u" not in text:
        return False
    high_end = -1  # end of a high-surrogate escape still waiting for its low half
    for match in _ESCAPE_RE.finditer(text):
        digits = match.group(1)
        code = int(digits, 16) if digits is not None else -1
        if high_end >= 0:
            if match.start() == high_end and 0xDC00 <= code <= 0xDFFF:
                high_end = -1
                continue
            return True
        if 0xD800 <= code <= 0xDBFF:
            high_end = match.end()
        elif 0xDC00 <= code <= 0xDFFF:
            return True
    return high_end >= 0


class _JsonReader:
    """json.JSONDecoder set up for the spec: NaN/Infinity rejected, top-level duplicate keys
    noticed, number literals a float cannot hold kept as text."""

    def __init__(self) -> None:
        self.duplicate: str | None = None
        self._decoder = json.JSONDecoder(
            object_pairs_hook=self._object,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
        )
        # Only tried when the first decoder fails: integers longer than Python's int
        # conversion limit are valid JSON.
        self._any_int_decoder = json.JSONDecoder(
            object_pairs_hook=self._object,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int_any_size,
        )

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # Nested objects: the last of duplicate keys wins. The hook runs for the outermost
        # object last, so after a decode ``duplicate`` describes the top-level object.
        obj = dict(pairs)
        self.duplicate = None
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.duplicate = key
                    break
                seen.add(key)
        return obj

    def decode_at(self, text: str, pos: int) -> tuple[Any, int, str | None]:
        """Decode the value starting exactly at ``pos``: (value, end, duplicate top-level key).

        value is ``_TOO_DEEP`` when the value is valid but nested beyond what the recursive
        decoder can do. Raises ``_MalformedError``.
        """
        error: Exception | None = None
        for decoder in (self._decoder, self._any_int_decoder):
            self.duplicate = None
            try:
                value, end = decoder.raw_decode(text, pos)
            except RecursionError:
                end, depth = _scan_json_value(text, pos)
                if depth <= MAX_DEPTH:  # the Python stack was already nearly exhausted
                    raise
                return _TOO_DEEP, end, None
            except ValueError as exc:
                error = exc
                continue
            return value, end, self.duplicate
        raise _MalformedError(str(error))

    def decode_all(self, text: str) -> tuple[Any, str | None]:
        """Decode a text that must be exactly one value, with JSON whitespace around it."""
        value, end, duplicate = self.decode_at(text, _skip_ws(text, 0))
        if _skip_ws(text, end) != len(text):
            raise _MalformedError(f"unexpected characters after the value at character {end}")
        return value, duplicate


_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _encode_json(value: Any) -> str:
    """JSON text of a decoded value, without whitespace outside strings."""
    try:
        return _JSON_ENCODER.encode(value)
    except ValueError:  # a _LiteralNumber: write its literal as sent
        pass
    if isinstance(value, _LiteralNumber):
        return value.text
    if isinstance(value, dict):
        members = (f"{_encode_json(key)}:{_encode_json(item)}" for key, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode_json(item) for item in value) + "]"
    raise AssertionError(f"cannot encode {value!r}")  # pragma: no cover
