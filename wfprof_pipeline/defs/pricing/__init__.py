"""Pricing assets (group `pricing`): tiers, prices, correlations, breakdowns, priorities, report."""
