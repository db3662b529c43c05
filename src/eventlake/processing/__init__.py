"""Processing steps: parse, validate, transform, deduplicate (see docs/processing.md).

``eventlake.processing.reference`` is the pure-Python reference implementation: the oracle the
Rust core (``data_processor_rs``) is tested against, and the baseline it is benchmarked against.
``eventlake.processing.gunzip`` is the one bounded gunzip of the Python side, the core's (the
API and the stream envelope use it; the reference keeps its own, being the oracle).
"""
