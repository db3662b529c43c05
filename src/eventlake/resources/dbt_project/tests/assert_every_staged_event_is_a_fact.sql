-- Reconciliation inside the warehouse: fact_events holds exactly the staged events.
select 'missing from fact_events' as problem, count(*) as events
from {{ ref('stg_events') }} as staged
where not exists (select 1 from {{ ref('fact_events') }} as facts where facts.event_id = staged.event_id)
having count(*) > 0
union all
select 'not in stg_events' as problem, count(*) as events
from {{ ref('fact_events') }} as facts
where not exists (select 1 from {{ ref('stg_events') }} as staged where staged.event_id = facts.event_id)
having count(*) > 0
