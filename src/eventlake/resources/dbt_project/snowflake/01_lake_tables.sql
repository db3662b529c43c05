-- The lake in Snowflake: the Iceberg tables the consumer commits to AWS Glue, read in place.
-- Snowflake reads each table's current metadata through the Glue catalog and its files from
-- S3; nothing is copied, and AUTO_REFRESH follows new commits.
--
-- Run once per account, as a role that may create integrations (ACCOUNTADMIN or one granted
-- CREATE INTEGRATION and CREATE EXTERNAL VOLUME). Replace every <...> placeholder first:
--   <glue-catalog-role-arn>   IAM role Snowflake assumes to read the Glue catalog
--   <aws-account-id>          the AWS account that owns the Glue catalog (GLUE_CATALOG_ID)
--   <aws-region>              the Glue and S3 region (EVENTLAKE_LAKE__CATALOG__REGION)
--   <lake-bucket>/<prefix>    the warehouse of EVENTLAKE_LAKE__CATALOG__WAREHOUSE
--   <s3-storage-role-arn>     IAM role Snowflake assumes to read the table files
-- After creating the integration and the volume, finish the trust relationship on the AWS
-- side: DESCRIBE CATALOG INTEGRATION eventlake_glue and DESCRIBE EXTERNAL VOLUME
-- eventlake_lake give the IAM user ARN and external id to put in the roles' trust policies.

create catalog integration if not exists eventlake_glue
    catalog_source = GLUE
    table_format = ICEBERG
    glue_aws_role_arn = '<glue-catalog-role-arn>'
    glue_catalog_id = '<aws-account-id>'
    glue_region = '<aws-region>'
    catalog_namespace = 'eventlake'  -- EVENTLAKE_LAKE__NAMESPACE: the Glue database
    enabled = TRUE
    refresh_interval_seconds = 60  -- how often AUTO_REFRESH polls Glue for new snapshots
    comment = 'eventlake: the lake''s Iceberg tables in AWS Glue';

create external volume if not exists eventlake_lake
    storage_locations = (
        (
            name = 'eventlake-s3'
            storage_provider = 'S3'
            storage_base_url = 's3://<lake-bucket>/<prefix>/'
            storage_aws_role_arn = '<s3-storage-role-arn>'
        )
    )
    allow_writes = FALSE  -- the consumer is the only writer; Snowflake only reads
    comment = 'eventlake: the S3 warehouse of the lake';

create database if not exists eventlake;
create schema if not exists eventlake.lake;

-- One Iceberg table per lake table. Columns come from the Iceberg metadata (the contracts in
-- resources/contracts/*.yaml plus event_date and the _job_id, _source, _ingested_at ingest columns);
-- Iceberg timestamptz reads as TIMESTAMP_LTZ, which the staging models turn into UTC.
create iceberg table if not exists eventlake.lake.events
    external_volume = 'eventlake_lake'
    catalog = 'eventlake_glue'
    catalog_table_name = 'events'
    auto_refresh = TRUE;

create iceberg table if not exists eventlake.lake.users
    external_volume = 'eventlake_lake'
    catalog = 'eventlake_glue'
    catalog_table_name = 'users'
    auto_refresh = TRUE;

create iceberg table if not exists eventlake.lake.products
    external_volume = 'eventlake_lake'
    catalog = 'eventlake_glue'
    catalog_table_name = 'products'
    auto_refresh = TRUE;

create iceberg table if not exists eventlake.lake.events_rejected
    external_volume = 'eventlake_lake'
    catalog = 'eventlake_glue'
    catalog_table_name = 'events_rejected'
    auto_refresh = TRUE;

-- dbt's role (profiles.yml: SNOWFLAKE_ROLE, default TRANSFORMER) reads the lake and owns the
-- layers it builds (staging, intermediate, marts, snapshots, reference).
grant usage on database eventlake to role transformer;
grant usage on schema eventlake.lake to role transformer;
grant select on all iceberg tables in schema eventlake.lake to role transformer;
grant create schema on database eventlake to role transformer;
