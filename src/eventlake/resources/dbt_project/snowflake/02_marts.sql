-- The star schema's contract: dim_users, dim_products and fact_events as dbt builds them in
-- Snowflake (models/marts/*.sql), with their keys. This is the reviewed reference, not what
-- dbt runs: dbt creates these tables itself (CREATE OR REPLACE TABLE ... AS SELECT) with
-- exactly these columns in this order, and tests/warehouse/test_snowflake_sql.py fails when
-- a model and this file disagree (on Snowflake through fakesnow, and on DuckDB).
--
-- Snowflake records PRIMARY KEY and FOREIGN KEY but does not enforce them: they tell BI tools
-- how the facts join the dimensions. dbt's tables do not carry them (dbt replaces the tables
-- on every build); dbt's data tests enforce them instead (unique and not_null
-- on every *_sk, relationships from fact_events to both dimensions:
-- models/marts/_marts__models.yml). The keys are not dbt model contracts: DuckDB (the local
-- target) enforces foreign keys and then refuses to rebuild a dimension that the incremental
-- fact_events references.
--
-- Types: keys are md5 hex text; timestamps are UTC without zone (TIMESTAMP_NTZ); the database
-- and schema are the prod target's (profiles.yml: SNOWFLAKE_DATABASE, default EVENTLAKE) and
-- the marts layer (macros/generate_schema_name.sql).

create schema if not exists eventlake.marts;

create table if not exists eventlake.marts.dim_users (
    user_sk varchar not null,  -- md5(user_id, valid_from)
    user_id varchar not null,
    user_name varchar not null,
    created_at timestamp_ntz not null,
    valid_from timestamp_ntz not null,  -- when this version took effect (updated_at)
    valid_to timestamp_ntz,  -- when the next one did; null for the current version
    is_current boolean not null,
    version_number number(38, 0) not null,  -- 1, 2, ... per user
    constraint pk_dim_users primary key (user_sk)
);

create table if not exists eventlake.marts.dim_products (
    product_sk varchar not null,  -- md5(product_id)
    product_id varchar not null,
    product_name varchar not null,
    category varchar not null,
    price float not null,
    constraint pk_dim_products primary key (product_sk)
);

create table if not exists eventlake.marts.fact_events (
    event_sk varchar not null,  -- md5(event_id)
    event_id varchar not null,
    user_sk varchar,  -- the user version valid at event_timestamp
    user_id varchar not null,
    product_sk varchar,  -- null when the event concerns no product
    product_id varchar,
    event_timestamp timestamp_ntz not null,
    event_date date not null,
    event_type varchar not null,
    funnel_step number(38, 0),  -- 1 page_view, 2 add_to_cart, 3 purchase (seeds/event_types.csv)
    is_revenue boolean not null,
    event_value float,
    ingested_at timestamp_ntz not null,
    _lake_sequence number(38, 0),  -- DuckDB's lake commit sequence; null on Snowflake
    constraint pk_fact_events primary key (event_sk),
    constraint fk_fact_events_user foreign key (user_sk) references eventlake.marts.dim_users (user_sk),
    constraint fk_fact_events_product foreign key (product_sk)
        references eventlake.marts.dim_products (product_sk)
);
