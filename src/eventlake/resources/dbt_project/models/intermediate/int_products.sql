-- Products as they are now (type 1), with their key: a changed price or name overwrites the
-- row. dim_products publishes these rows; int_user_events keys events to them.
with products as (

    select * from {{ ref('stg_products') }}

),

final as (

    select
        {{ eventlake.surrogate_key(['product_id']) }} as product_sk,
        product_id,
        product_name,
        category,
        price
    from products

)

select * from final
