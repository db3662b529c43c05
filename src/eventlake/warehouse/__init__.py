"""The warehouse layer: the dbt project's runner, its DuckDB view of the lake, its profiles."""
