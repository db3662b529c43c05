"""``eventlake serve``: the HTTP API (uvicorn)."""

import enum
from typing import Annotated

import typer

from eventlake.cli.common import backend_extras, console, fail, load_settings, require_extras


class LogLevel(enum.StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    log_level: Annotated[
        LogLevel, typer.Option(case_sensitive=False, help="uvicorn's log level.")
    ] = LogLevel.info,
) -> None:
    """Run the HTTP API (uvicorn): ingest batches, job status, pipeline runs, metrics."""
    import uvicorn

    from eventlake.api_keys import KeyFileRing, local_api_key, local_key_path, parse_api_keys

    settings = load_settings()
    require_extras("eventlake serve", *backend_extras(settings))
    try:
        configured = parse_api_keys(settings.api_keys)
    except ValueError as exc:
        raise fail(f"invalid EVENTLAKE_API_KEYS: {exc}", code=2) from None
    keys_file = settings.api_keys_file
    if keys_file is not None:
        try:  # read here too, so that a bad file stops the start, not each worker
            KeyFileRing(keys_file, configured)
        except (OSError, ValueError) as exc:
            raise fail(f"invalid EVENTLAKE_API_KEYS_FILE {keys_file}: {exc}", code=2) from None
    try:
        # Created here, before the workers start, so that they all read the same key.
        local_key = None if configured or keys_file else local_api_key(settings)
    except OSError as exc:
        raise fail(f"cannot keep the API key under {settings.home}: {exc}") from None
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    console.print(f"eventlake API on {url}, docs at {url}/docs", highlight=False)
    if keys_file is not None:
        console.print(
            f"API keys: {len(configured)} from EVENTLAKE_API_KEYS and those of {keys_file} "
            "(read again when it changes)",
            highlight=False,
        )
    elif local_key is None:
        console.print(f"API keys: {len(configured)} from EVENTLAKE_API_KEYS", highlight=False)
    else:
        console.print(
            f"API key (generated, kept in {local_key_path(settings)}): {local_key}\n"
            "Send it as X-API-Key or Authorization: Bearer; set EVENTLAKE_API_KEYS to use "
            "your own.",
            highlight=False,
        )
    uvicorn.run(
        "eventlake.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.value,
    )
