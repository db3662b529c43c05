"""Validate: parsed records → typed rows for the records that keep the contract, a rejection
(field, reason) for each that does not (``validate/``)."""

from __future__ import annotations

import math
import re
from typing import Any

from eventlake.contracts import ContractSpec, FieldSpec
from eventlake.processing.reference.batch import ValidatedBatch
from eventlake.processing.reference.contract import _ASCII_LOWER, _normalize_enum
from eventlake.processing.reference.json import (
    _TOO_DEEP,
    MAX_DEPTH,
    _encode_json,
    _has_unpaired_surrogate,
    _json_kind,
    _JsonReader,
    _LiteralNumber,
    _MalformedError,
    _nesting_exceeds_limit,
)
from eventlake.processing.reference.parse import ParsedBatch, ParsedRecord
from eventlake.processing.reference.rejection import Rejection
from eventlake.processing.reference.timestamp import (
    _DATE_RE,
    _ISO_RE,
    EPOCH_MS_THRESHOLD,
    MAX_TIMESTAMP_US,
    MIN_TIMESTAMP_US,
    _days_from_civil,
    _days_in_month,
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_CSV_INT_RE = re.compile(r"-?[0-9]+")
_CSV_DECIMAL_RE = re.compile(r"-?[0-9]+\.[0-9]+")
_CSV_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _FieldError(Exception):
    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.message = message


def _format_number(value: float) -> str:
    """Contract bounds print as written: 0 rather than 0.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


class _Validator:
    def __init__(self, contract: ContractSpec) -> None:
        self.contract = contract
        self.names = frozenset(contract.field_names)
        self.reader = _JsonReader()

    def row(self, record: ParsedRecord) -> dict[str, Any]:
        values = record.values
        row: dict[str, Any] = {}
        for spec in self.contract.fields:
            name = spec.name
            if name in values:
                value = values[name]
            elif spec.required:
                raise _FieldError(name, "missing", f"{name} is required but missing")
            else:
                value = None
            if value is None:
                if not spec.nullable:
                    raise _FieldError(name, "null", f"{name} must not be null")
                row[name] = None
                continue
            typed = self.from_csv(spec, value) if record.from_csv else self.from_json(spec, value)
            self.check_constraints(spec, typed)
            row[name] = typed
        if self.contract.extra_fields == "reject":
            for key in values:
                if key not in self.names:
                    raise _FieldError(
                        key,
                        "extra_field",
                        f"{key} is not a field of the {self.contract.name} contract",
                    )
        return row

    # -- types ----------------------------------------------------------------------------

    @staticmethod
    def wrong_type(spec: FieldSpec, value: Any) -> _FieldError:
        return _FieldError(
            spec.name, "wrong_type", f"{spec.name}: expected {spec.type}, got {_json_kind(value)}"
        )

    @staticmethod
    def wrong_text(spec: FieldSpec, text: str) -> _FieldError:
        return _FieldError(
            spec.name, "wrong_type", f"{spec.name}: {text!r} is not a valid {spec.type}"
        )

    @staticmethod
    def int_in_range(spec: FieldSpec, value: int) -> int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise _FieldError(spec.name, "out_of_range", f"{spec.name}: {value} is beyond int64")
        return value

    @staticmethod
    def finite(spec: FieldSpec, value: float) -> float:
        if not math.isfinite(value):
            raise _FieldError(spec.name, "out_of_range", f"{spec.name}: the number is not finite")
        return value

    def from_json(self, spec: FieldSpec, value: Any) -> Any:
        kind = spec.type
        if kind == "string":
            if type(value) is not str:
                raise self.wrong_type(spec, value)
            return value
        if kind == "int":
            if type(value) is int:
                return self.int_in_range(spec, value)
            if isinstance(value, _LiteralNumber) and value.is_int:
                raise _FieldError(
                    spec.name, "out_of_range", f"{spec.name}: {value.text} is beyond int64"
                )
            raise self.wrong_type(spec, value)  # floats (1.5, 1.0, 1e3), bools, ...
        if kind == "float":
            if type(value) is int:
                try:
                    return self.finite(spec, float(value))
                except OverflowError:
                    raise _FieldError(
                        spec.name, "out_of_range", f"{spec.name}: the number is not finite"
                    ) from None
            if isinstance(value, float):
                return self.finite(spec, float(value))
            raise self.wrong_type(spec, value)
        if kind == "bool":
            if type(value) is not bool:
                raise self.wrong_type(spec, value)
            return value
        if kind == "timestamp":
            if type(value) is str:
                return self.iso_timestamp(spec, value)
            if type(value) is int:
                return self.epoch_int(spec, value)
            if isinstance(value, _LiteralNumber) and value.is_int:
                raise self.timestamp_range(spec, value.text)
            if isinstance(value, float):
                return self.epoch_float(spec, float(value), repr(float(value)))
            raise self.wrong_type(spec, value)
        if kind == "date":
            if type(value) is not str:
                raise self.wrong_type(spec, value)
            return self.date(spec, value)
        # json: any value, stored as its text
        return _encode_json(value)

    def from_csv(self, spec: FieldSpec, text: str) -> Any:
        kind = spec.type
        if kind == "string":
            return text
        if kind == "int":
            if _CSV_INT_RE.fullmatch(text) is None:
                raise self.wrong_text(spec, text)
            return self.int_in_range(spec, self.int_from_digits(text))
        if kind == "float":
            if _CSV_FLOAT_RE.fullmatch(text) is None:
                raise self.wrong_text(spec, text)
            return self.finite(spec, float(text))
        if kind == "bool":
            lowered = text.translate(_ASCII_LOWER)
            if lowered == "true":
                return True
            if lowered == "false":
                return False
            raise self.wrong_text(spec, text)
        if kind == "timestamp":
            if _CSV_INT_RE.fullmatch(text) is not None:
                return self.epoch_int(spec, self.int_from_digits(text))
            if _CSV_DECIMAL_RE.fullmatch(text) is not None:
                return self.epoch_float(spec, float(text), text)
            return self.iso_timestamp(spec, text)
        if kind == "date":
            return self.date(spec, text)
        # json: the cell must be exactly one JSON value
        try:
            value, _ = self.reader.decode_all(text)
        except _MalformedError as exc:
            raise _FieldError(
                spec.name, "invalid_json", f"{spec.name}: not valid JSON: {exc}"
            ) from None
        # Interpretation: the cell's value is depth 1 and may nest up to MAX_DEPTH; deeper
        # values and unpaired surrogate escapes are invalid_json too.
        if value is _TOO_DEEP or _nesting_exceeds_limit(text):
            raise _FieldError(
                spec.name, "invalid_json", f"{spec.name}: nests deeper than {MAX_DEPTH} levels"
            )
        if _has_unpaired_surrogate(text):
            raise _FieldError(
                spec.name,
                "invalid_json",
                f"{spec.name}: not valid JSON: an unpaired surrogate escape",
            )
        return _encode_json(value)

    @staticmethod
    def int_from_digits(text: str) -> int:
        """``-?[0-9]+`` as an int; more than 19 significant digits is past int64 either way
        (and past Python's int conversion limit, which leading zeros could otherwise hit)."""
        negative = text.startswith("-")
        digits = text.lstrip("-").lstrip("0")
        if len(digits) > 19:
            digits = "1" + "0" * 19
        number = int(digits) if digits else 0
        return -number if negative else number

    # -- timestamps and dates -------------------------------------------------------------

    @staticmethod
    def timestamp_range(spec: FieldSpec, shown: str) -> _FieldError:
        return _FieldError(
            spec.name, "out_of_range", f"{spec.name}: {shown} is outside years 1 to 9999"
        )

    def in_timestamp_range(self, spec: FieldSpec, micros: int, shown: str) -> int:
        if not MIN_TIMESTAMP_US <= micros <= MAX_TIMESTAMP_US:
            raise self.timestamp_range(spec, shown)
        return micros

    def epoch_int(self, spec: FieldSpec, number: int) -> int:
        micros = number * 1_000 if abs(number) >= EPOCH_MS_THRESHOLD else number * 1_000_000
        return self.in_timestamp_range(spec, micros, str(number))

    def epoch_float(self, spec: FieldSpec, number: float, shown: str) -> int:
        scaled = number * 1_000.0 if abs(number) >= EPOCH_MS_THRESHOLD else number * 1_000_000.0
        if not math.isfinite(scaled):
            raise self.timestamp_range(spec, shown)
        return self.in_timestamp_range(spec, math.trunc(scaled), shown)

    def iso_timestamp(self, spec: FieldSpec, text: str) -> int:
        match = _ISO_RE.fullmatch(text)

        def bad(why: str) -> _FieldError:
            return _FieldError(
                spec.name, "bad_timestamp", f"{spec.name}: {text!r} is not a timestamp ({why})"
            )

        if match is None:
            raise bad("expected YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|+HH:MM]")
        y, mo, d, h, mi, sec, frac, _zulu, sign, off_h, off_m = match.groups()
        year, month, day, hour, minute = int(y), int(mo), int(d), int(h), int(mi)
        second = int(sec) if sec is not None else 0
        if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
            raise bad("no such date")
        if hour > 23 or minute > 59 or second > 59:
            raise bad("no such time of day")
        offset = 0  # no offset, Z or z: UTC
        if sign is not None:
            offset_hours = int(off_h)
            offset_minutes = int(off_m) if off_m is not None else 0
            if offset_hours > 23 or offset_minutes > 59:
                raise bad("offset beyond ±23:59")
            offset = (offset_hours * 3600 + offset_minutes * 60) * (1 if sign == "+" else -1)
        fraction = (frac or "")[:6].ljust(6, "0")  # truncated to microseconds
        seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        micros = (seconds - offset) * 1_000_000 + int(fraction)
        return self.in_timestamp_range(spec, micros, repr(text))

    @staticmethod
    def date(spec: FieldSpec, text: str) -> int:
        match = _DATE_RE.fullmatch(text)
        if match is None:
            raise _FieldError(spec.name, "bad_date", f"{spec.name}: {text!r} is not YYYY-MM-DD")
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
            raise _FieldError(spec.name, "bad_date", f"{spec.name}: {text!r} is not a real date")
        if year < 1:
            # Interpretation: like timestamps, dates must fall in years 1 to 9999.
            raise _FieldError(
                spec.name, "out_of_range", f"{spec.name}: {text!r} is outside years 1 to 9999"
            )
        return _days_from_civil(year, month, day)

    # -- constraints ----------------------------------------------------------------------

    @staticmethod
    def check_constraints(spec: FieldSpec, value: Any) -> None:
        name = spec.name
        if spec.type == "string":
            length = len(value)
            if spec.min_length is not None and length < spec.min_length:
                raise _FieldError(
                    name, "too_short", f"{name}: {length} characters, fewer than {spec.min_length}"
                )
            if spec.max_length is not None and length > spec.max_length:
                raise _FieldError(
                    name, "too_long", f"{name}: {length} characters, more than {spec.max_length}"
                )
            if spec.enum is not None and _normalize_enum(value) not in spec.enum:
                raise _FieldError(
                    name, "not_in_enum", f"{name}: {value!r} is not one of {', '.join(spec.enum)}"
                )
        elif spec.type == "int" or spec.type == "float":
            # Python compares int with float exactly (no rounding of the int to float64).
            if spec.min is not None and value < spec.min:
                raise _FieldError(
                    name,
                    "out_of_range",
                    f"{name}: {value!r} is below the minimum {_format_number(spec.min)}",
                )
            if spec.max is not None and value > spec.max:
                raise _FieldError(
                    name,
                    "out_of_range",
                    f"{name}: {value!r} is above the maximum {_format_number(spec.max)}",
                )


def validate_schema(batch: ParsedBatch, contract: ContractSpec) -> ValidatedBatch:
    """Type every record against the contract; a record fails on its first failing field
    (contract order), then on its first extra key (key order) when extras are rejected."""
    validator = _Validator(contract)
    rows: list[dict[str, Any]] = []
    rejected = list(batch.rejected)
    for record in batch.records:
        try:
            rows.append(validator.row(record))
        except _FieldError as exc:
            rejected.append(
                Rejection(record.index, record.line, exc.field, exc.reason, exc.message, record.raw)
            )
    rejected.sort(key=lambda rejection: rejection.record_index)
    return ValidatedBatch(contract, rows, rejected)
