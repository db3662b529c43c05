{#- A stable surrogate key: md5 of the parts as text, joined with a separator the contracts'
    ids do not contain, with NULL spelled out (so (NULL, 'a') and ('a', NULL) differ). The
    parts are expressions that render as text the same way on every run (timestamps go
    through timestamp_key_text). -#}
{% macro surrogate_key(parts) -%}
    md5(
        {%- for part in parts %}
        coalesce(cast({{ part }} as varchar), '<null>')
        {%- if not loop.last %} || '~|~' || {% endif -%}
        {% endfor %}
    )
{%- endmacro %}
