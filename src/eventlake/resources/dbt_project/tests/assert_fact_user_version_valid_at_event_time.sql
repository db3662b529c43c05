-- Every fact row points at the user version that was valid when the event happened (or at
-- the first version, for an event older than every recorded version).
select facts.event_sk, facts.event_timestamp, users.valid_from, users.valid_to
from {{ ref('fact_events') }} as facts
join {{ ref('dim_users') }} as users
    on facts.user_sk = users.user_sk
where facts.user_id <> users.user_id
   or (users.version_number > 1 and facts.event_timestamp < users.valid_from)
   or (users.valid_to is not null and facts.event_timestamp >= users.valid_to)
