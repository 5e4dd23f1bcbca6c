"""The seed's published figures (workflow-runtime-analysis.md), kept to compare measurements against."""

from __future__ import annotations

from dataclasses import dataclass

# "Step Tiers (Based on Function Calls)": representative call counts per tier.
SEED_TIER_CALLS: dict[str, tuple[int, str]] = {
    "webhook": (5_000, "light"),
    "slack": (150_000, "medium"),
    "web3": (215_000, "heavy"),
}

# "Pricing Formula" table: step type → (base units, I/O multiplier, total), one I/O operation each.
SEED_PRICING_TABLE: dict[str, tuple[float, float, float]] = {
    "trigger": (1, 0, 1),
    "webhook": (1, 1, 2),
    "email": (1, 1, 2),
    "slack": (3, 2, 5),
    "web3 (read)": (5, 3, 8),
    "web3 (write)": (5, 10, 15),
}

# The measurements behind that table, as the seed describes them: tier by calls, I/O by request kind.
# A trigger makes no calls and no requests (it is the workflow's entry point).
SEED_STEP_MEASUREMENTS: list[dict[str, object]] = [
    {"step_id": "trigger", "action_type": "trigger", "calls_own": 0, "calls_packages": 0,
     "io_operations": 0},
    {"step_id": "webhook", "action_type": "webhook", "calls_own": 5_000, "calls_packages": 0,
     "io_operations": 1},
    {"step_id": "email", "action_type": "email", "calls_own": 5_000, "calls_packages": 0,
     "io_operations": 1},
    {
        "step_id": "slack", "action_type": "slack", "declared_io_class": "chat",
        "calls_own": 150_000, "calls_packages": 0, "io_operations": 1,
    },
    {
        "step_id": "web3-read", "action_type": "web3 (read)", "calls_own": 215_000, "calls_packages": 0,
        "io_operations": 1, "rpc_methods": ["eth_chainId", "eth_getBalance"],
    },
    {
        "step_id": "web3-write", "action_type": "web3 (write)", "calls_own": 215_000, "calls_packages": 0,
        "io_operations": 1, "rpc_methods": ["eth_chainId", "eth_sendRawTransaction"],
    },
]

# "WASM Fuel Budgets": 6.4M fuel per 1,000 ops, i.e. total fuel / iterations (fixed cost folded in).
SEED_FUEL_PER_OP = 6_400.0

# Figures the seed states as findings.
SEED_STEP_CODE_SHARE_MAX = 0.01  # "Step code is <1% of total function calls"
SEED_DB_SHARE_MIN = 0.50  # "Database operations account for 50%+ of function calls"
SEED_LIGHTER_WEB3_REDUCTION = (0.15, 0.25)  # "Lighter web3 libs - use viem" is listed at 15-25 %
SEED_DB_REDUCTION = (0.30, 0.50)  # database batching / pooling: "High impact (30-50% reduction)"


@dataclass(frozen=True)
class SeedClaim:
    key: str
    text: str


SEED_CLAIMS: tuple[SeedClaim, ...] = (
    SeedClaim(
        "static_not_runtime", "Static ≠ Runtime: high cyclomatic complexity doesn't mean high runtime cost"
    ),
    SeedClaim("dependencies_dominate", "Dependencies dominate: step code is <1% of total function calls"),
    SeedClaim("database_expensive", "Database is expensive: 50%+ of workflow execution is DB operations"),
    SeedClaim("tier_figures", "Tiers: webhook ≈ 5K calls, Slack ≈ 150K, web3 (ethers) ≈ 215K"),
    SeedClaim("lighter_web3", "Lighter web3 libs: use viem for simple operations (15-25% reduction)"),
    SeedClaim("fuel_budget", "Fuel budget: 1,000 ops ≈ 6.4M fuel (6,400 fuel per op)"),
    SeedClaim("pricing_table", "Pricing table: webhook 2, email 2, slack 5, web3 read 8, web3 write 15 units"),
    SeedClaim("io_variance", "I/O variance is high: web3 steps vary 10× (latency, workflow traces)"),
)
SEED_IO_VARIANCE = 10.0
