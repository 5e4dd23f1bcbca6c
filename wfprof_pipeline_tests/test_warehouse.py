"""The DuckDB warehouse: atomic, idempotent replaces and a clear error when another process holds the lock."""

import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from wfprof_pipeline.lib import warehouse


def test_replace_table_is_idempotent(warehouse_path: Path) -> None:
    frame = pl.DataFrame({"step": ["a", "b"], "calls": [1, 2]})
    with warehouse.session(warehouse_path) as con:
        assert warehouse.replace_table(con, "t", frame) == 2
        assert warehouse.replace_table(con, "t", frame) == 2
        assert con.execute("select step, calls from t order by step").fetchall() == [("a", 1), ("b", 2)]
        assert warehouse.table_counts(con) == [("t", 2)]


def test_failed_replace_keeps_the_old_table(warehouse_path: Path) -> None:
    with warehouse.session(warehouse_path) as con:
        warehouse.replace_table(con, "t", pl.DataFrame({"x": [1, 2, 3]}))
        with pytest.raises(Exception):  # noqa: B017 - any failure of the incoming data must roll back
            warehouse.replace_table(con, "t", object())
        assert con.execute("select count(*) from t").fetchone() == (3,)


def test_locked_warehouse_names_the_file_and_the_holder(warehouse_path: Path) -> None:
    warehouse.session(warehouse_path).__enter__().close()  # create the file
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)",
         str(warehouse_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "held"
        with pytest.raises(warehouse.WarehouseLocked) as err:
            warehouse.connect(warehouse_path)
        assert str(warehouse_path) in str(err.value) and str(holder.pid) in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    warehouse.connect(warehouse_path).close()  # nothing lost: usable again once the holder is gone


def test_read_only_on_a_missing_warehouse_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(warehouse.WarehouseMissing, match="wfprof run"):
        warehouse.connect(tmp_path / "none.duckdb", read_only=True)
