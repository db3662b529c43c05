-- SCD2 users: one row per version, valid over [valid_from, valid_to) (int_user_versions).
with versions as (

    select * from {{ ref('int_user_versions') }}

),

final as (

    select
        user_sk,
        user_id,
        user_name,
        created_at,
        valid_from,
        valid_to,
        is_current,
        version_number
    from versions

)

select * from final
