-- depends_on: {{ ref('int_user_versions') }}
{#- One row per event. Incremental: a rerun reads the events staged since the last run (by
    the lake's sequence number) and re-keys the facts whose user version is no longer the one
    valid at their time (a rename that reached the lake after the events it affects, or a
    profile that arrived after its user's first events) or that still wait for their product. Rows are replaced by event_sk, so
    re-reading a row (a Snowflake lookback window, a compacted lake) never doubles it. -#}
{{
    config(
        materialized='incremental',
        unique_key='event_sk',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

with
{% if is_incremental() %}
stale_facts as (

    select facts.event_id
    from {{ this }} as facts
    left join {{ ref('int_user_versions') }} as user_versions
        on facts.user_sk = user_versions.user_sk
    where user_versions.user_sk is null
        or (user_versions.valid_to is not null and facts.event_timestamp >= user_versions.valid_to)
        or (facts.product_id is not null and facts.product_sk is null)

),
{% endif %}

events as (

    select * from {{ ref('int_user_events') }}
    {% if is_incremental() %}
    where {{ eventlake.new_lake_rows(this) }}
        or event_id in (select event_id from stale_facts)
    {% endif %}

),

final as (

    select
        {{ eventlake.surrogate_key(['event_id']) }} as event_sk,
        event_id,
        user_sk,
        user_id,
        product_sk,
        product_id,
        event_timestamp,
        event_date,
        event_type,
        funnel_step,
        is_revenue,
        event_value,
        ingested_at,
        _lake_sequence
    from events

)

select * from final
