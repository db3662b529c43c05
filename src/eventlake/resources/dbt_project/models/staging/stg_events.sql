{#- Incremental, so a rerun reads only the lake commits since the last run (lake_increment:
    on DuckDB, only the Parquet files committed after this model's highest _lake_sequence).
    An event id already staged is never staged again (the first landed copy wins), which keeps
    the last-line dedup exact across runs. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
    )
}}

with source as (

    {% if is_incremental() %}
    select * from {{ eventlake.lake_increment(source('lake', 'events'), this) }}
    {% else %}
    select * from {{ source('lake', 'events') }}
    {% endif %}

),

renamed as (

    select
        event_id,
        user_id,
        lower(trim(event_type)) as event_type,
        {{ eventlake.utc_timestamp('event_timestamp') }} as event_timestamp,
        event_date,
        cast(event_value as double) as event_value,
        nullif(trim(product_id), '') as product_id,
        properties,
        _job_id as job_id,
        _source as source,
        {{ eventlake.utc_timestamp('_ingested_at') }} as ingested_at,
        {{ eventlake.lake_sequence('_lake_sequence') }} as _lake_sequence
    from source

),

deduplicated as (

    select *
    from renamed
    qualify row_number() over (
        partition by event_id order by ingested_at, _lake_sequence, job_id
    ) = 1

)

select * from deduplicated
{% if is_incremental() %}
where event_id not in (select event_id from {{ this }})
{% endif %}
