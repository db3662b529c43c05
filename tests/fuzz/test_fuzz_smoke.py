"""The Python edge's fuzz harnesses (harnesses.py) as a smoke in ``make test``: each harness's
seed corpus, then a few hundred mutants of it from a seeded generator, in process (no
coverage guidance: ``make fuzz`` runs atheris for minutes); and atheris itself for a
second per harness, so that the driver ``make fuzz`` uses stays working."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.harnesses import HARNESSES, Harness

CORPUS = Path(__file__).parent / "corpus"
ROOT = Path(__file__).resolve().parents[2]
MUTANTS = 250


def corpus(name: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((CORPUS / name).iterdir())]


def mutants(seeds: list[bytes], count: int, seed: int) -> Iterator[bytes]:
    """Bytes flipped, cut, spliced with another seed, or replaced by random ones."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test inputs, not secrets)
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(data))
            action = rng.randrange(4)
            if action == 0 and data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            elif action == 1:
                del data[at:]
            elif action == 2:
                other = rng.choice(seeds)
                data[at:at] = other[rng.randint(0, len(other)) :][: rng.randint(0, 64)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 8))
        yield bytes(data)


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_each_harness_survives_its_corpus_and_mutants(name: str) -> None:
    harness: Harness = HARNESSES[name]()
    try:
        seeds = corpus(name)
        for data in seeds:
            harness(data)
        for data in mutants(seeds, MUTANTS, seed=len(name)):
            try:
                harness(data)
            except Exception as error:
                raise AssertionError(f"{name} failed on {data!r}") from error
    finally:
        harness.close()


@pytest.mark.slow  # a child process (libFuzzer exits the process when done): not in test-fast
@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_atheris_drives_each_harness(name: str, tmp_path: Path) -> None:
    """A few hundred coverage-guided inputs from the corpus, as ``make fuzz`` runs them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # libFuzzer adds what it finds to the first corpus folder: a scratch one, the seeds after.
    scratch = tmp_path / "corpus"
    scratch.mkdir()
    # A child process: libFuzzer exits the process when it is done.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.harnesses",
            name,
            "-runs=300",
            "-seed=1",
            "-timeout=10",
            f"-artifact_prefix={tmp_path}/",
            str(scratch),
            str(CORPUS / name),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Done 300 runs" in run.stderr, run.stderr[-2000:]
