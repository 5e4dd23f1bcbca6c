"""The cost model: tiers, prices, correlations, breakdowns, priorities and the HTML report.

Pure Python (polars, scipy, pydantic); no Dagster. Inputs are the measurement tables in the warehouse
(see `inputs.py`); every function here also works on frames built by hand, which is how the tests feed
it the seed's published figures.
"""
