-- Every version of every user, from the snapshot: one row per version, valid over
-- [valid_from, valid_to). user_sk hashes (user_id, valid_from), both fixed once the snapshot
-- records a version, so keys are the same on every run. dim_users publishes these rows;
-- int_user_events and fact_events key events to them.
with snapshot as (

    select * from {{ ref('snap_users') }}

),

versions as (

    select
        user_id,
        user_name,
        created_at,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to,
        row_number() over (partition by user_id order by dbt_valid_from) as version_number
    from snapshot

),

final as (

    select
        {{ eventlake.surrogate_key(['user_id', eventlake.timestamp_key_text('valid_from')]) }} as user_sk,
        user_id,
        user_name,
        created_at,
        valid_from,
        valid_to,
        valid_to is null as is_current,
        version_number
    from versions

)

select * from final
