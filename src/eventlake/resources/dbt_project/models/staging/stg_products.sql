with source as (

    select * from {{ source('lake', 'products') }}

),

renamed as (

    select
        product_id,
        trim(name) as product_name,
        lower(trim(category)) as category,
        cast(price as double) as price,
        {{ eventlake.utc_timestamp('_ingested_at') }} as ingested_at
    from source

),

-- The catalogue keeps one row per product: the latest one the lake received.
deduplicated as (

    select *
    from renamed
    qualify row_number() over (partition by product_id order by ingested_at desc) = 1

)

select * from deduplicated
