-- Each event with the version of its user that was valid at the event's time, and its
-- product. A user's first version also covers events from before it was recorded (an event
-- can arrive with a clock ahead of the profile's updated_at); an event whose user has no
-- profile yet keeps a null user_sk, and fact_events picks it up again once the profile lands.
with events as (

    select * from {{ ref('stg_events') }}

),

user_versions as (

    select * from {{ ref('int_user_versions') }}

),

products as (

    select * from {{ ref('int_products') }}

),

joined as (

    select
        events.event_id,
        user_versions.user_sk,
        events.user_id,
        products.product_sk,
        events.product_id,
        events.event_timestamp,
        events.event_date,
        events.event_type,
        event_types.funnel_step,
        coalesce(event_types.is_revenue, false) as is_revenue,
        events.event_value,
        events.ingested_at,
        events._lake_sequence
    from events
    left join user_versions
        on events.user_id = user_versions.user_id
        and (user_versions.version_number = 1 or events.event_timestamp >= user_versions.valid_from)
        and (user_versions.valid_to is null or events.event_timestamp < user_versions.valid_to)
    left join products
        on events.product_id = products.product_id
    left join {{ ref('event_types') }} as event_types
        on events.event_type = event_types.event_type

)

select * from joined
