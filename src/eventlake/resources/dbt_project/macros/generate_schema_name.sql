{#- Layers land in schemas named after them (staging, intermediate, marts, snapshots,
    reference) rather than dbt's default <target schema>_<layer>: dashboards and the quality
    gates read marts.fact_events on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
