-- The latest version of each user profile: what the snapshot (snapshots/snap_users.yml)
-- records on each run. Versions that arrive between two runs keep only the latest; the lake
-- keeps every version (stg_users).
with users as (

    select * from {{ ref('stg_users') }}

),

latest as (

    select
        user_id,
        user_name,
        created_at,
        updated_at
    from users
    qualify row_number() over (partition by user_id order by updated_at desc) = 1

)

select * from latest
