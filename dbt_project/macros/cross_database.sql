{#- Warehouse differences, each behind adapter.dispatch: DuckDB (local) and Snowflake (prod). -#}

{#- A lake timestamp (Iceberg timestamptz) as a UTC timestamp without zone. -#}
{% macro utc_timestamp(column) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'eventlake')(column)) }}
{%- endmacro %}

{% macro duckdb__utc_timestamp(column) -%}
    cast(timezone('UTC', {{ column }}) as timestamp)
{%- endmacro %}

{% macro snowflake__utc_timestamp(column) -%}
    cast(convert_timezone('UTC', {{ column }}) as timestamp_ntz)
{%- endmacro %}

{#- A timestamp as text that is the same on every run (surrogate keys hash it). -#}
{% macro timestamp_key_text(column) -%}
    {{ return(adapter.dispatch('timestamp_key_text', 'eventlake')(column)) }}
{%- endmacro %}

{% macro duckdb__timestamp_key_text(column) -%}
    strftime({{ column }}, '%Y-%m-%dT%H:%M:%S.%f')
{%- endmacro %}

{% macro snowflake__timestamp_key_text(column) -%}
    to_char({{ column }}, 'YYYY-MM-DD"T"HH24:MI:SS.FF6')
{%- endmacro %}

{#- The Iceberg data sequence number of the commit that added a row: DuckDB reads it from
    the lake views (eventlake.warehouse.lake_views); a Snowflake catalog integration does not
    expose it, so Snowflake falls back to ingest time (see new_lake_rows). -#}
{% macro lake_sequence(column) -%}
    {{ return(adapter.dispatch('lake_sequence', 'eventlake')(column)) }}
{%- endmacro %}

{% macro duckdb__lake_sequence(column) -%}
    {{ column }}
{%- endmacro %}

{% macro default__lake_sequence(column) -%}
    cast(null as bigint)
{%- endmacro %}

{#- The filter an incremental model puts on its lake input so a rerun reads only what the
    lake committed since the last run. On DuckDB the watermark is a constant, so the lake
    view's older files (one UNION ALL branch per Iceberg sequence number) are pruned at plan
    time and never opened. Elsewhere it compares ingest times: `ingested_at` must then be an
    expression of UTC time without zone, like the model's own ingested_at column (pass a lake
    column through utc_timestamp): Snowflake compares a zoned lake timestamp with a zoneless
    one in the session's time zone, hours off unless that is UTC. -#}
{% macro new_lake_rows(relation, ingested_at='ingested_at') -%}
    {{ return(adapter.dispatch('new_lake_rows', 'eventlake')(relation, ingested_at)) }}
{%- endmacro %}

{% macro duckdb__new_lake_rows(relation, ingested_at) -%}
    {%- set watermark = -1 -%}
    {%- if execute -%}
        {%- set result = run_query('select coalesce(max(_lake_sequence), -1) from ' ~ relation) -%}
        {%- set watermark = result.columns[0].values()[0] -%}
    {%- endif -%}
    _lake_sequence > {{ watermark }}
{%- endmacro %}

{% macro default__new_lake_rows(relation, ingested_at) -%}
    {{ ingested_at }} > (
        select coalesce(
            {{ dbt.dateadd('hour', -var('incremental_lookback_hours'), 'max(ingested_at)') }},
            cast('1970-01-01' as timestamp)
        )
        from {{ relation }}
    )
{%- endmacro %}
