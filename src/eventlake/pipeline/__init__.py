"""The pipeline's task functions: thin edges (CLI, API, DAGs) call these."""
