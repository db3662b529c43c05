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

{#- The lake rows an incremental model has not read yet, as a relation to select from.
    DuckDB: only the Parquet files committed after the model's watermark, listed in
    lake.<table>__files, each group with its sequence number; the older files are never
    opened. Columns come from the lake view, so both read alike (a column the new files lack
    reads as NULL). Snowflake: the source filtered by ingest time (new_lake_rows). -#}
{% macro lake_increment(source_relation, model_relation) -%}
    {{ return(adapter.dispatch('lake_increment', 'eventlake')(source_relation, model_relation)) }}
{%- endmacro %}

{% macro duckdb__lake_increment(source_relation, model_relation) -%}
    {%- if not execute -%}
        {{ return('(select * from ' ~ source_relation ~ ' where false)') }}
    {%- endif -%}
    {%- set watermark = run_query(
        'select coalesce(max(_lake_sequence), -1) from ' ~ model_relation
    ).columns[0].values()[0] -%}
    {%- set files_relation = source_relation.incorporate(
        path={'identifier': source_relation.identifier ~ '__files'}
    ) -%}
    {%- set files = run_query(
        'select sequence_number, file_path from ' ~ files_relation
        ~ ' where sequence_number > ' ~ watermark ~ ' order by sequence_number, file_path'
    ) -%}
    {%- if files.rows | length == 0 -%}
        (select * from {{ source_relation }} where false)
    {%- else -%}
        {%- set quoted = [] -%}
        {%- for row in files.rows -%}
            {%- do quoted.append("'" ~ row[1] | replace("'", "''") ~ "'") -%}
        {%- endfor -%}
        {%- set present = run_query(
            'select distinct name from parquet_schema([' ~ quoted | join(', ') ~ '])'
        ).columns[0].values() -%}
        {%- set columns = adapter.get_columns_in_relation(source_relation) -%}
        (
        {%- for group in files.rows | groupby(0) %}
            select
            {%- for column in columns if column.name != '_lake_sequence' %}
                {% if column.name in present -%}
                cast({{ adapter.quote(column.name) }} as {{ column.data_type }})
                {%- else -%}
                cast(null as {{ column.data_type }})
                {%- endif %} as {{ adapter.quote(column.name) }},
            {%- endfor %}
                cast({{ group.grouper }} as bigint) as _lake_sequence
            from read_parquet([
                {%- for row in group.list -%}
                '{{ row[1] | replace("'", "''") }}'{% if not loop.last %}, {% endif %}
                {%- endfor -%}
            ], union_by_name = true)
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}

{% macro default__lake_increment(source_relation, model_relation) -%}
    (
        select * from {{ source_relation }}
        where {{ eventlake.new_lake_rows(model_relation, ingested_at=eventlake.utc_timestamp('_ingested_at')) }}
    )
{%- endmacro %}
