with source as (

    select * from {{ source('lake', 'users') }}

),

renamed as (

    select
        user_id,
        trim(user_name) as user_name,
        {{ eventlake.utc_timestamp('created_at') }} as created_at,
        {{ eventlake.utc_timestamp('updated_at') }} as updated_at,
        {{ eventlake.utc_timestamp('_ingested_at') }} as ingested_at
    from source

),

-- One row per profile version: the contract's key is (user_id, updated_at).
deduplicated as (

    select *
    from renamed
    qualify row_number() over (
        partition by user_id, updated_at order by ingested_at desc
    ) = 1

)

select * from deduplicated
