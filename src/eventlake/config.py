"""Settings: one pydantic-settings class, env prefix ``EVENTLAKE_``, built by ``get_settings()``.

Defaults need no credentials: a fresh clone runs end to end with nothing configured, and all
embedded state lives under ``EVENTLAKE_HOME`` (default ``./.eventlake``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The checkout, for the docs generator and the tests only: nothing run by an installed package
# reads from it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Package data, shipped in the wheel: the data contracts (resources/contracts/) and the dbt
# project (resources/dbt_project/). Found through importlib.resources and used as real folders,
# since the Rust core and dbt open files by path (a wheel is always installed unzipped).
RESOURCES = Path(str(files("eventlake") / "resources"))


def _kind_or(default: str) -> Callable[[Any], str]:
    """The discriminator of a backend union, with the default backend's kind when none is given.

    Environment variables arrive one field at a time: ``EVENTLAKE_STREAM__BACKEND__SHARDS=4``
    alone is ``{"shards": "4"}``, which pydantic's plain ``discriminator="kind"`` refuses
    ("Unable to extract tag"). It means "the default backend, with 4 shards".
    """

    def kind(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("kind", default))
        return str(getattr(value, "kind", default))

    return kind


def _unknown_kind(*kinds: str) -> dict[str, str]:
    """The error for a kind no backend has, listing the ones that exist."""
    return {
        "custom_error_type": "unknown_kind",
        "custom_error_message": "kind must be one of " + ", ".join(repr(k) for k in kinds),
    }


class SqlCatalogSettings(BaseModel):
    """pyiceberg's SQL catalog: SQLite under EVENTLAKE_HOME by default, or any SQLAlchemy URL."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sql"] = Field(
        default="sql", description="`sql`: pyiceberg's SQL catalog (the default), or `glue`."
    )
    uri: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog (SQLite, Postgres, ...); default "
        "SQLite in HOME/catalog.db.",
    )
    warehouse: str | None = Field(
        default=None,
        description="Where table files go (a folder or URI, s3:// too); default HOME/lake.",
    )
    region: str | None = Field(
        default=None,
        description="The S3 region of an s3:// warehouse; unset: pyiceberg asks AWS for the "
        "bucket's region.",
    )
    s3_endpoint: str | None = Field(
        default=None, description="S3's endpoint URL; only for S3 look-alikes (moto, MinIO)."
    )


class GlueCatalogSettings(BaseModel):
    """AWS Glue as the catalog, S3 as storage. Credentials come from the usual AWS chain."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["glue"] = Field(description="`glue`: AWS Glue as the catalog, S3 as storage.")
    warehouse: str = Field(
        pattern=r"^s3a?://[^/]+", description="Where table files go: s3://bucket/prefix (required)."
    )
    region: str = Field(default="us-east-1", description="The Glue and S3 region.")
    glue_endpoint: str | None = Field(
        default=None, description="Glue's endpoint URL; only for Glue look-alikes (moto)."
    )
    s3_endpoint: str | None = Field(
        default=None, description="S3's endpoint URL; only for S3 look-alikes (moto)."
    )
    glue_max_retries: int = Field(
        default=10,
        ge=0,
        le=100,
        description="Retries of a failed Glue call (botocore's standard mode, pyiceberg's "
        "default 10): while Glue is down, each consumer batch and health check waits through "
        "them before it fails.",
    )


CatalogSettings = Annotated[
    Annotated[SqlCatalogSettings, Tag("sql")] | Annotated[GlueCatalogSettings, Tag("glue")],
    Discriminator(_kind_or("sql"), **_unknown_kind("sql", "glue")),
]


class LakeSettings(BaseModel):
    """The Iceberg lake: its catalog, namespace and how data files are written."""

    model_config = ConfigDict(extra="forbid")

    catalog: CatalogSettings = Field(
        default_factory=SqlCatalogSettings, description="The Iceberg catalog, chosen by kind."
    )
    namespace: str = Field(
        default="eventlake",
        pattern=r"^[a-z_][a-z0-9_]{0,127}$",
        description="The Iceberg namespace of the tables (the Glue database on AWS).",
    )
    zstd_level: int = Field(default=1, ge=1, le=22, description="zstd level of the Parquet files.")
    encode_threads: int = Field(
        default=0, ge=0, le=256, description="Threads encoding Parquet files; 0: one per CPU."
    )
    commit_attempts: int = Field(
        default=20, ge=1, le=1000, description="Tries per commit when writers race."
    )


class EmbeddedStreamSettings(BaseModel):
    """The default stream: a durable log in SQLite (WAL) under EVENTLAKE_HOME."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["embedded"] = Field(
        default="embedded", description="`embedded`: a durable SQLite log (the default)."
    )
    path: Path | None = Field(
        default=None, description="The log's SQLite file; default HOME/stream.db."
    )
    shards: int = Field(default=4, ge=1, le=256, description="Shards of each new stream.")
    retention_hours: float = Field(
        default=168, gt=0, description="Records older than this are deleted, as Kinesis does."
    )


class KinesisStreamSettings(BaseModel):
    """AWS Kinesis Data Streams. Credentials come from the usual AWS chain."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["kinesis"] = Field(description="`kinesis`: AWS Kinesis Data Streams.")
    region: str = Field(default="us-east-1", description="The Kinesis region.")
    endpoint_url: str | None = Field(
        default=None, description="Kinesis's endpoint URL; only for Kinesis look-alikes (moto)."
    )
    shards: int = Field(default=2, ge=1, le=10_000, description="Shards of a stream it creates.")
    create_missing: bool = Field(
        default=True, description="Create a dataset's stream when it does not exist."
    )
    retry_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Tries of a throttled call (PutRecords entries, GetRecords...) before the "
        "API answers 503 or the consumer's batch fails and is retried.",
    )
    retry_seconds: float = Field(
        default=0.1, gt=0, description="The first pause after a throttled call (doubling)."
    )
    retry_max_seconds: float = Field(
        default=5.0, gt=0, description="The longest pause between tries of a throttled call."
    )


StreamBackendSettings = Annotated[
    Annotated[EmbeddedStreamSettings, Tag("embedded")]
    | Annotated[KinesisStreamSettings, Tag("kinesis")],
    Discriminator(_kind_or("embedded"), **_unknown_kind("embedded", "kinesis")),
]


class StreamSettings(BaseModel):
    """The stream between the API and the consumer."""

    model_config = ConfigDict(extra="forbid")

    backend: StreamBackendSettings = Field(
        default_factory=EmbeddedStreamSettings, description="The stream backend, chosen by kind."
    )
    name_prefix: str = Field(
        default="eventlake",
        pattern=r"^[a-zA-Z0-9_.-]{1,100}$",
        description="Each dataset has its own stream, named PREFIX-DATASET.",
    )
    compress_over_bytes: int = Field(
        default=0,
        ge=0,
        description="Batches larger than this are gzipped in the stream (5x fewer bytes for "
        "JSON, ~1 ms of CPU per 100 KB); 0: only when a batch is over Kinesis's record limit.",
    )

    def stream_name(self, dataset: str) -> str:
        return f"{self.name_prefix}-{dataset}"


class ApiSettings(BaseModel):
    """The ingest API's limits."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(
        default=5 * 1_048_576,
        gt=0,
        le=256 * 1_048_576,
        description="Request bodies larger than this, raw or decompressed, are refused with 413.",
    )
    max_reasons: int = Field(
        default=100, ge=0, le=10_000, description="Rejected records listed in an answer at most."
    )
    idempotency_lease_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How long a request's claim on its Idempotency-Key lasts without renewal. "
        "The API process renews its claims every third of this while the requests work; a "
        "claim whose process died is taken over by a retry this long after its last renewal "
        "(until then retries get 409).",
    )
    state_busy_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How long a request waits for the SQLite job database's write lock (held "
        "by another process: a long transaction, a backup) before it is answered 503 with "
        "Retry-After, nothing published; the client's retry with the same Idempotency-Key is "
        "taken once the lock is gone. The consumers and the pipeline wait 30 s.",
    )
    rate_limit_per_second: float = Field(
        default=0.0,
        ge=0,
        description="Requests per second each API key may make, per API process (a token "
        "bucket per key; over it: 429 with Retry-After). 0 turns the limit off, the default: "
        "the buckets are per process, so a useful figure depends on how many workers and "
        "hosts share the load, and the benchmarks and load test drive one key at thousands "
        "of requests a second.",
    )
    rate_limit_burst: int = Field(
        default=100,
        ge=1,
        description="Requests a key may make at once before the per-second rate applies (the "
        "token bucket's size).",
    )
    metrics_require_key: bool = Field(
        default=False,
        description="Ask for an API key on the Prometheus endpoint /metrics (as X-API-Key, "
        "Authorization: Bearer, or the password of HTTP Basic authentication, which "
        "Prometheus' basic_auth and authorization settings send). Off by default: scrapers "
        "expect it open, and it shows only counts.",
    )


class ConsumerSettings(BaseModel):
    """The consumer that lands the stream in the lake."""

    model_config = ConfigDict(extra="forbid")

    max_batch_events: int = Field(
        default=500_000, gt=0, description="Events gathered into one lake commit at most."
    )
    max_batch_bytes: int = Field(
        default=256 * 1_048_576,
        gt=0,
        description="Bytes gathered into one lake commit at most: the Arrow size of its rows "
        "(and dead-letter rows), not the bytes read from the stream, because the rows are "
        "what the consumer holds in memory and writes as files, and a gzip body is many "
        "times smaller than its rows. A batch commits at events, bytes or seconds, whichever "
        "comes first.",
    )
    max_batch_seconds: float = Field(
        default=2.0, gt=0, description="A commit waits at most this long for more events."
    )
    read_limit: int = Field(
        default=1000, ge=1, le=10_000, description="Stream records read per shard per call."
    )
    poll_seconds: float = Field(default=0.2, gt=0, description="Pause when every shard is idle.")
    lease_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a consumer's lease on a shard lasts without renewal: after this, "
        "another consumer takes the shard over (the Kinesis Client Library's failover time). "
        "A heartbeat thread renews it whatever the consumer is doing, so a batch or commit may "
        "take longer; a consumer paused (or killed) for longer loses its shards.",
    )
    lease_renew_seconds: float = Field(
        default=3.0,
        gt=0,
        description="How often a consumer renews its leases (its heartbeat, a thread of its "
        "own), lists the shards and takes its fair share; well below lease_seconds.",
    )
    retry_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Pause after a failed batch (S3, the catalog, the stream or the state "
        "database down), doubled for each further failure in a row up to retry_max_seconds; "
        "the consumer starts again from the lake each time.",
    )
    retry_max_seconds: float = Field(
        default=30.0, gt=0, description="The longest pause between failed batches."
    )
    state_busy_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long the consumer's writes to the SQLite job database (leases, "
        "progress, windows) wait for another process's write lock before the batch fails and "
        "is retried after retry_seconds.",
    )
    # The dedup window is one setting for the consumer and `eventlake process`: the top-level
    # `dedup_window` (a `consumer.dedup_window` given the old way is moved there, see Settings).


class WarehouseSettings(BaseModel):
    """Where dbt builds the star schema: a DuckDB file by default, Snowflake in production."""

    model_config = ConfigDict(extra="forbid")

    target: Literal["local", "prod"] = Field(
        default="local",
        description="The warehouse dbt builds and the dashboard and quality gates read: local "
        "(DuckDB, reads the lake through the catalog) or prod (Snowflake, reads the lake's "
        "Iceberg tables through a catalog integration).",
    )
    duckdb_path: Path | None = Field(
        default=None, description="The local warehouse file; default HOME/warehouse.duckdb."
    )
    threads: int | None = Field(
        default=None, ge=1, le=64, description="dbt threads; default 2 on local, 4 on prod."
    )


class SnowflakeSettings(BaseSettings):
    """The prod target's connection: the same ``SNOWFLAKE_*`` variables dbt's profile reads
    (resources/dbt_project/profiles.yml), so one set of variables serves dbt, the dashboard and
    the gates.
    """

    model_config = SettingsConfigDict(env_prefix="SNOWFLAKE_", extra="ignore")

    account: str = Field(min_length=1, description="The Snowflake account identifier (required).")
    user: str = Field(
        min_length=1, description="The user dbt, the dashboard and the gates log in as."
    )
    password: SecretStr = Field(repr=False, description="That user's password; never logged.")
    role: str = Field(default="TRANSFORMER", description="The role of the session.")
    warehouse: str = Field(
        default="TRANSFORMING", description="The virtual warehouse queries run on."
    )
    database: str = Field(default="EVENTLAKE", description="The database the marts are built in.")
    # Unset in production (the connector derives the host from the account); the tests point
    # them at a local fakesnow server.
    host: str = Field(
        default="",
        description="Only for a Snowflake look-alike (the tests' fakesnow); default: derived "
        "from the account.",
    )
    port: int = Field(default=443, gt=0, lt=65536, description="Only for a Snowflake look-alike.")
    protocol: str = Field(
        default="https", pattern="^https?$", description="Only for a Snowflake look-alike."
    )
    login_timeout: int = Field(default=30, gt=0, description="Seconds to wait for a session.")


class QualitySettings(BaseModel):
    """Great Expectations gates over the warehouse's staging and mart tables."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str | None = Field(
        default=None,
        repr=False,
        description="A Slack-compatible incoming webhook; a failed gate POSTs a JSON alert. A "
        "secret: never logged.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Let the webhook's host resolve to a private, loopback, link-local or "
        "otherwise reserved address (a webhook inside your network). Off: such a URL is refused "
        "with a warning, so a webhook setting cannot make eventlake post to internal services "
        "or a cloud metadata endpoint (SSRF).",
    )
    future_tolerance_minutes: float = Field(
        default=60, ge=0, description="Event timestamps may be this far ahead of now."
    )


class AirflowSettings(BaseModel):
    """Airflow's REST API, when the pipelines should run as DAG runs there."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Airflow's API server (e.g. http://127.0.0.1:8080): POST "
        "/api/v1/trigger/pipeline and /transform then start dag_data_pipeline and "
        "dag_dbt_transform there and /status follows the DAG run; none: triggered pipelines "
        "run in-process.",
    )
    username: str = Field(
        default="admin", max_length=200, description="The Airflow user eventlake logs in as."
    )
    password: SecretStr | None = Field(
        default=None, description="That user's password; never logged."
    )


class Settings(BaseSettings):
    """Every ``EVENTLAKE_*`` setting; nested ones use ``__`` (``EVENTLAKE_LAKE__ZSTD_LEVEL``)."""

    model_config = SettingsConfigDict(
        env_prefix="EVENTLAKE_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Field(
        default=Path(".eventlake"), description="Folder that holds all embedded state."
    )
    contracts_dir: Path = Field(
        default=RESOURCES / "contracts", description="Folder of the YAML data contracts."
    )
    max_record_bytes: int = Field(
        default=1_048_576,
        gt=0,
        le=64 * 1_048_576,
        description="A record larger than this is rejected as too_large by the core.",
    )
    max_decompressed_bytes: int = Field(
        default=1 << 30,
        gt=0,
        description="A gzipped body that inflates beyond this is refused (a gzip bomb).",
    )
    dedup_window: int = Field(
        default=2_000_000,
        gt=0,
        description="Event keys remembered across batches: per shard by the consumers (a "
        "shard's window is saved with its position and moves with its lease) and by `eventlake "
        "process` across a file's batches. "
        "Also read from the consumer's former own setting (`CONSUMER__DEDUP_WINDOW`).",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_dedup_window(cls, data: Any) -> Any:
        """The consumer had a dedup window of its own (``consumer.dedup_window``, 2,000,000
        by default) beside this one (10,000,000, for ``eventlake process``); one window now
        serves both, with the consumer's default (a consumer saves its window often, so its
        size bounds the cost of every save). A value set the old way is still taken, unless
        the top-level one is set too."""
        if isinstance(data, dict) and isinstance(data.get("consumer"), dict):
            consumer = dict(data["consumer"])
            if "dedup_window" in consumer:
                legacy = consumer.pop("dedup_window")
                data = {**data, "consumer": consumer}
                data.setdefault("dedup_window", legacy)
        return data

    lake: LakeSettings = Field(default_factory=LakeSettings, description="The Iceberg lake.")
    stream: StreamSettings = Field(default_factory=StreamSettings, description="The stream.")
    api: ApiSettings = Field(default_factory=ApiSettings, description="The ingest API.")
    consumer: ConsumerSettings = Field(
        default_factory=ConsumerSettings, description="The stream consumer."
    )
    warehouse: WarehouseSettings = Field(
        default_factory=WarehouseSettings, description="The dbt warehouse."
    )
    quality: QualitySettings = Field(
        default_factory=QualitySettings, description="The quality gates."
    )
    airflow: AirflowSettings = Field(
        default_factory=AirflowSettings, description="Airflow's REST API."
    )
    api_keys: str = Field(
        default="",
        repr=False,
        description="Comma-separated API keys, each `name:secret` (the name becomes the events' "
        "_source) or a bare secret; `name:sha256:<64 hex digits>` (or bare `sha256:<hex>`) "
        "gives the secret's SHA-256 instead, so the configuration holds no usable key; none: "
        "a local key is generated once into HOME/api_key (mode 0600). Never logged.",
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="A file of API keys in EVENTLAKE_API_KEYS's format (entries separated by "
        "commas or lines; `#` starts a comment), accepted besides EVENTLAKE_API_KEYS. Read again "
        "when it changes (looked at every 2 s at most), so keys are added and revoked without a "
        "restart: add the new key, move the clients to it, remove the old one. A file that "
        "turns unreadable or malformed keeps the keys last read (logged as an error).",
    )
    state_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the job state (jobs, idempotency keys, consumer "
        "progress): SQLite or Postgres; default SQLite in HOME/state.db.",
    )
    landing_dir: Path | None = Field(
        default=None,
        description="Files dropped here (DATASET/NAME or DATASET*.EXT, any supported format, "
        "optionally gzipped) are ingested by the pipeline's ingest_data task; handled files "
        "move to _done/, unreadable ones to _rejected/ with a .reason.txt; default HOME/landing.",
    )
    landing_uri: str | None = Field(
        default=None,
        pattern=r"^s3://[^/]+",
        description="An S3 prefix (s3://bucket/prefix) to ingest from instead of the landing "
        "folder.",
    )
    landing_endpoint_url: str | None = Field(
        default=None, description="Only for S3 look-alikes (the landing prefix's endpoint)."
    )

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def duckdb_path(self) -> Path:
        return (self.warehouse.duckdb_path or self.home / "warehouse.duckdb").resolve()

    @property
    def state_database_url(self) -> str:
        return self.state_url or f"sqlite:///{(self.home / 'state.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
