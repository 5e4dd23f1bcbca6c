"""Usage for metering systems: a CloudEvents 1.0 JSON batch (OpenMeter) or CSV (Lago, Stripe, Metronome).

An event's `id` is a hash of the execution id and the policy digest: re-exporting a day gives the same ids,
so the metering system deduplicates it; a changed policy (other units) gives new ids.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, model_validator

from wfprof_pipeline.lib.cost_model.policy import PricingPolicy
from wfprof_pipeline.lib.errors import UsageError

CLOUDEVENTS_BATCH_TYPE = "application/cloudevents-batch+json"
METER_TYPE = "wfprof.units"
EVENT_SOURCE = "wfprof/usage"
SPEC_VERSION = "1.0"
# Extension attribute (CloudEvents: lowercase letters and digits) carrying the policy digest, for audits.
POLICY_EXTENSION = "wfprofpolicy"
CSV_COLUMNS = ("id", "subject", "type", "time", "execution_id", "workflow_id", "units", "steps", "status",
               "compute_ms", "policy_digest")


class ExportError(UsageError):
    """An export that cannot be written (the message names the path)."""


def event_id(execution_id: str, policy_digest: str) -> str:
    return hashlib.sha256(f"{execution_id}\x00{policy_digest}".encode()).hexdigest()[:32]


def _with_ids(costs: pl.DataFrame) -> pl.DataFrame:
    ids = [event_id(e, d) for e, d in zip(costs["execution_id"].to_list(), costs["policy_digest"].to_list(),
                                          strict=True)]
    return costs.with_columns(pl.Series("id", ids, dtype=pl.Utf8),
                              pl.col("started_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").alias("time"))


def events_frame(costs: pl.DataFrame) -> pl.DataFrame:
    """One CloudEvent per execution, as a frame whose rows serialize to the events (data is a struct)."""
    c = _with_ids(costs)
    return c.select(
        pl.lit(SPEC_VERSION).alias("specversion"), "id", pl.lit(EVENT_SOURCE).alias("source"),
        pl.lit(METER_TYPE).alias("type"), "subject", "time", pl.lit("application/json").alias("datacontenttype"),
        pl.col("policy_digest").alias(POLICY_EXTENSION),
        pl.struct("execution_id", "workflow_id", "units", pl.col("steps_charged").alias("steps"), "status",
                  "compute_ms").alias("data"),
    )


def cloudevents_batch(costs: pl.DataFrame) -> str:
    """The JSON batch (`application/cloudevents-batch+json`): a JSON array of structured events."""
    if not costs.height:
        return "[]"
    return events_frame(costs).write_json()


def csv_text(costs: pl.DataFrame) -> str:
    c = _with_ids(costs).with_columns(pl.lit(METER_TYPE).alias("type"), pl.col("steps_charged").alias("steps"))
    return c.select(CSV_COLUMNS).write_csv()


def price_book(pricing: pl.DataFrame | None, policy: PricingPolicy, generated_at: dt.datetime) -> dict:
    """The policy, its digest and the units per step type: what an invoice's units mean."""
    steps = [] if pricing is None else pricing.select(
        "step_type", "step_id", "tier", "io_class", "io_operations", "total_units", "coverage"
    ).sort("step_type", "step_id").to_dicts()
    return {"policy_digest": policy.digest(), "generated_at": generated_at.isoformat(),
            "policy": policy.model_dump(mode="json", exclude={"gate"}),
            "trigger_units": policy.usage.trigger_units, "step_types": steps}


def price_book_json(book: dict) -> str:
    return json.dumps(book, indent=2, default=str) + "\n"


def write_text(path: Path, text: str) -> None:
    """Write atomically (a reader never sees half an export); an unwritable path is one clear error."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


ExportFormat = Literal["cloudevents", "csv"]


class UsageExportRequest(BaseModel):
    """`wfprof export usage`: a day or an inclusive range of UTC days, and a format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first: dt.date
    last: dt.date
    format: ExportFormat = "cloudevents"

    @model_validator(mode="after")
    def _ordered(self) -> UsageExportRequest:
        if self.last < self.first:
            raise ValueError(f"--to {self.last} is before --from {self.first}")
        return self

    def label(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first} … {self.last}"


def render(costs: pl.DataFrame, fmt: ExportFormat) -> str:
    return cloudevents_batch(costs) if fmt == "cloudevents" else csv_text(costs)
