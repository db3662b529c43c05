"""The dbt runner's edges: a dbt that hangs is stopped, two transforms take turns."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from eventlake.config import Settings
from eventlake.warehouse.dbt_runner import DbtProcess, run_dbt, warehouse_lock


def test_a_dbt_that_runs_past_its_timeout_is_stopped_and_says_so(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    began = time.perf_counter()
    # dbt needs seconds just to import; a 0.5 s limit stops it before it writes a line.
    result = run_dbt(settings, ["parse"], timeout=0.5)
    assert time.perf_counter() - began < 5
    assert result.returncode != 0
    assert result.error is not None
    assert "timeout" in result.error


def test_a_command_dbt_refuses_says_why_and_the_next_one_still_runs(tmp_path: Path) -> None:
    """Commands share one dbt child: a refused one (dbt's usage error, exit code 2 from its
    CLI) is reported with dbt's reason, and the child goes on to the next."""
    with DbtProcess(Settings(home=tmp_path)) as dbt:
        refused = dbt.run(["build", "--no-such-option"])
        listed = dbt.run(["ls", "--resource-type", "model", "--output", "name"])
    assert refused.returncode == 2
    assert refused.error is not None
    assert "no-such-option" in refused.error
    assert listed.returncode == 0
    assert listed.error is None


def test_a_second_transform_waits_for_the_first(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    order: list[str] = []
    second_in = threading.Event()

    def second() -> None:
        with warehouse_lock(settings):
            order.append("second starts")
            second_in.set()

    with warehouse_lock(settings):
        thread = threading.Thread(target=second)
        thread.start()
        # The second is kept out for as long as the first holds the lock (any wait would do).
        assert not second_in.wait(0.5)
        order.append("first done")
    assert second_in.wait(30)  # and gets in once it is released
    thread.join()
    assert order == ["first done", "second starts"]
