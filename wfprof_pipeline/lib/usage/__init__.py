"""Real usage priced: execution, workflow and customer costs from the traces, billing what-ifs, exports, fuel caps."""
