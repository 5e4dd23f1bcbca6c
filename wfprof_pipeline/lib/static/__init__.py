"""Static analysis of step source code on tree-sitter: the seed's per-file metrics, ESLint-exact per-function
complexity, and classified external calls. Pure Python + tree-sitter (no Dagster, polars or duckdb), so the
`wfprof analyze` CLI starts fast."""
