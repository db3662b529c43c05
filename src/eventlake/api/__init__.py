"""The HTTP API: ingest batches, follow jobs, trigger runs, health and metrics."""
