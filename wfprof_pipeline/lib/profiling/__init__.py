"""Step profiling: run steps in fresh Node processes under the harness, summarize repeats, build tables."""
