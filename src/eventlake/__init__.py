"""eventlake: a high-performance event data pipeline with a Rust core."""

__version__ = "0.1.0"
