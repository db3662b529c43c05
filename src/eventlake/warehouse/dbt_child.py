"""The dbt child process: dbt commands one after another in one interpreter.

`python -m eventlake.warehouse.dbt_child` reads one command per line on stdin (a JSON list of
dbt's arguments), runs it with dbt's programmatic runner, and after dbt's own log lines prints
one line, `{"eventlake_dbt_exit": CODE}`, with the code dbt's CLI would have exited with (0 done,
1 a node failed, 2 dbt could not run). It ends when stdin does.

Why one child for several commands: importing dbt and its adapter is most of a short command's
cost (about 2.5 of the docs' 3.5 CPU-seconds), and a transform's build and docs pay it once.
dbt supports commands one after the other in one process, never at the same time: the parent
(`dbt_runner.DbtProcess`) sends the next command only after the last one's exit line.
"""

from __future__ import annotations

import json
import sys

EXIT_KEY = "eventlake_dbt_exit"


def main() -> None:
    from dbt.cli.main import dbtRunner

    runner = dbtRunner()
    for line in sys.stdin:
        result = runner.invoke(json.loads(line))
        if result.success:
            code = 0
        elif result.exception is None:
            code = 1  # a model or test failed: its node says why
        else:
            code = 2
            # dbt has logged most of these already; a usage error it has not.
            print(f"dbt could not run: {result.exception}")
        print(json.dumps({EXIT_KEY: code}), flush=True)


if __name__ == "__main__":
    main()
