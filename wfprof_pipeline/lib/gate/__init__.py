"""The step-cost gate: deterministic snapshots of a tree (`wfprof snapshot`) and their comparison
(`wfprof gate`). Pure logic, no Dagster imports; the commands in `wfprof_pipeline/commands/` are thin."""
