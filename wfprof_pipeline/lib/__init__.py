"""Pure logic: no Dagster imports here. Everything in lib/ is what the CLI and the assets call."""
