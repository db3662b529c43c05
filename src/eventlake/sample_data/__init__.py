"""Deterministic sample data: events (with duplicates and broken records), users, products.

Everything is drawn from ``random.Random(seed)`` (its ``random()`` and ``getrandbits()`` only,
with plain arithmetic on top) and nothing else: no clock, no ``hash()``, no ``uuid``, no libm
function. The same :class:`SampleConfig` gives byte-identical files on any machine (gzip output
also depends on the zlib build; the manifest's ``sha256`` is of the uncompressed content).
Generation streams in blocks (constant memory): about 10 µs per event in pure Python, in one
process or, with ``write_sample(..., workers=n)``, in several.

The event stream is ``config.events`` records long. Of those, ``round(events * duplicate_share)``
are exact repeats of a recent valid event (same line, same ``event_id``) and
``round(events * invalid_share)`` are broken on purpose, cycling through
:data:`INVALID_VARIANTS`; each :class:`GeneratedRecord` says what it is and which rejection
reason (``docs/processing.md``) the validator must give it. :func:`write_sample` writes the
files and a ``manifest.json`` that tests and benchmarks reconcile counts against.

Formats: every record has an NDJSON ``line``. JSON arrays hold the same texts as elements,
except ``invalid_json`` records, which cannot live inside an array without swallowing the rest
of the body: they are skipped (and counted as skipped). CSV cells are text, so some breakages
read differently there (see :data:`INVALID_VARIANTS`): an empty cell is null, a number sent as a
string is fine; records CSV cannot express at all (a truncated line, an array, a duplicate key,
deep nesting) are written as a one-cell row, which the parser rejects as ``ragged_row``.

The modules: ``model`` (the configuration and what is reported), ``draws`` (the vocabulary and
the random draws), ``entities`` (users, renames, products), ``events`` (the event stream),
``writers`` (one file in one format), ``sample`` (a whole sample and its manifest). They only
compute and write files; they never print.
"""

from eventlake.sample_data.entities import (
    generate_products,
    generate_user_renames,
    generate_users,
)
from eventlake.sample_data.events import generate_events
from eventlake.sample_data.model import (
    EVENT_FIELDS,
    EVENT_TYPES,
    FORMATS,
    INVALID_VARIANTS,
    PRODUCT_FIELDS,
    USER_FIELDS,
    FileStats,
    Format,
    GeneratedRecord,
    InvalidVariant,
    RecordKind,
    SampleConfig,
    SampleSummary,
)
from eventlake.sample_data.sample import write_sample
from eventlake.sample_data.writers import write_dataset

__all__ = [
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "FORMATS",
    "INVALID_VARIANTS",
    "PRODUCT_FIELDS",
    "USER_FIELDS",
    "FileStats",
    "Format",
    "GeneratedRecord",
    "InvalidVariant",
    "RecordKind",
    "SampleConfig",
    "SampleSummary",
    "generate_events",
    "generate_products",
    "generate_user_renames",
    "generate_users",
    "write_dataset",
    "write_sample",
]
