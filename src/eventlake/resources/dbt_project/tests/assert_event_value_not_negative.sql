-- Money never goes below zero in the facts (the contract's minimum is 0).
select event_sk, event_value
from {{ ref('fact_events') }}
where event_value < 0
