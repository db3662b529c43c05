"""``eventlake quality``: the Great Expectations gates, recorded as a run."""

from eventlake.cli.common import backend_extras, console, load_settings, require_extras
from eventlake.cli.recorded import run_recorded


def quality() -> None:
    """Validate the warehouse's staging and mart tables (Great Expectations), write Data Docs.

    Exit code 1, with a table of the failed expectations, when a gate fails. The run is recorded
    like a triggered one; a configured webhook (EVENTLAKE_QUALITY__WEBHOOK_URL) is alerted."""
    settings = load_settings()
    require_extras("eventlake quality", *backend_extras(settings, warehouse=True))
    from eventlake.pipeline.pipelines import QUALITY

    run = run_recorded(settings, QUALITY)
    console.print(f"[bold green]{run.result['summary']}[/] (run {run.run_id})", highlight=False)
