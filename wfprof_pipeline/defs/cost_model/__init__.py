"""Cost model assets (group `cost_model`): tiers, prices, correlations, breakdowns, priorities, report."""
