-- Products as they are now (type 1): a changed price or name overwrites the row
-- (int_products).
with products as (

    select * from {{ ref('int_products') }}

),

final as (

    select
        product_sk,
        product_id,
        product_name,
        category,
        price
    from products

)

select * from final
