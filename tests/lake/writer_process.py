"""A lake writer in its own process, for tests that kill it or race two of them.

    python -m tests.lake.writer_process HOME BODY_FILE --key K --first N [--batches B]
        [--crash before-commit|after-commit]

Each batch i commits BODY_FILE's events (event ids suffixed with the key and position, so
every batch holds distinct rows) covering position key K, sequence FIRST + i. A crash is
``os._exit`` at the named point: no cleanup, no finally blocks, like ``kill -9``.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import data_processor_rs

from eventlake.config import Settings
from eventlake.contracts import load_contract
from eventlake.lake import Lake, SequenceRange
from eventlake.lake.writer import TableCommit

CRASH_EXIT = 137


def batch_body(body: bytes, key: str, sequence: int) -> bytes:
    tag = f"-{key}-{sequence}".encode()
    return body.replace(b'"event_id":"', b'"event_id":"' + tag[1:] + b"-")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("body", type=Path)
    parser.add_argument("--key", required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--batches", type=int, default=1)
    parser.add_argument("--crash", choices=["before-commit", "after-commit"])
    args = parser.parse_args()

    lake = Lake(Settings(home=args.home))
    contract = load_contract("events")
    lake.ensure_dataset(contract)
    lake.ensure_dead_letter()
    if args.crash == "before-commit":
        # Dies once the events table's data files are written, before its commit: the
        # dead-letter commit before it has gone through.
        commit_files = lake._commit_files

        def die(table_name: str, *rest: Any) -> TableCommit:
            if table_name == "events":
                os._exit(CRASH_EXIT)
            return commit_files(table_name, *rest)

        lake._commit_files = die  # type: ignore[method-assign]
    body = args.body.read_bytes()
    for i in range(args.batches):
        sequence = args.first + i
        batch = data_processor_rs.process(
            batch_body(body, args.key, sequence),
            contract,
            job_id=f"{args.key}-{sequence}",
            source="writer",
        )
        result = lake.commit_processed(
            batch,
            ranges={args.key: SequenceRange(sequence, sequence)},
            job_id=f"{args.key}-{sequence}",
            source="writer",
            received_at=datetime.now(UTC),
        )
        if args.crash == "after-commit":
            os._exit(CRASH_EXIT)
        print(
            json.dumps(
                {"sequence": sequence, "skipped": result.skipped, "attempts": result.rows.attempts}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
