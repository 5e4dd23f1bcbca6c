"""Warehouse tables declared once: each column's name, type and meaning.

A `Table` gives everything that used to be written per table: the polars schema a frame is built with, the
DuckDB DDL (for fixtures and empty tables), the column docs (Dagster's column schema, `COMMENT ON COLUMN`,
the README) and an empty frame. Each `lib/<source>/tables.py` declares its tables with it; `defs/metadata.py`
turns a `Table` into Dagster metadata.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

# polars type → DuckDB type, for every type a wfprof table uses.
_DUCKDB_TYPES: dict[type[pl.DataType], str] = {
    pl.Utf8: "varchar",
    pl.Int64: "bigint",
    pl.Int32: "integer",
    pl.Float64: "double",
    pl.Boolean: "boolean",
    pl.Datetime: "timestamp",
    pl.Date: "date",
}


def duckdb_type(dtype: pl.DataType | type[pl.DataType]) -> str:
    """The DuckDB type a polars column of `dtype` is stored as."""
    if isinstance(dtype, pl.List):
        return duckdb_type(dtype.inner) + "[]"
    base = dtype if isinstance(dtype, type) else type(dtype)
    try:
        return _DUCKDB_TYPES[base]
    except KeyError:
        raise TypeError(f"no DuckDB type declared for polars type {dtype}") from None


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType | type[pl.DataType]
    doc: str = ""

    @property
    def duckdb_type(self) -> str:
        return duckdb_type(self.dtype)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    doc: str = ""
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {c.name: c for c in self.columns}
        if len(by_name) != len(self.columns):
            raise ValueError(f"table {self.name}: a column name is declared twice")
        object.__setattr__(self, "_by_name", by_name)

    @classmethod
    def of(cls, name: str, columns: Iterable[Column | tuple], doc: str = "") -> Table:
        """`Table.of("t", [("a", pl.Utf8, "doc"), …])`: columns as Column or (name, dtype[, doc]) tuples."""
        return cls(name, tuple(c if isinstance(c, Column) else Column(*c) for c in columns), doc)

    def extend(self, name: str, columns: Iterable[Column | tuple], doc: str = "") -> Table:
        """Another table with this one's columns followed by `columns`."""
        extra = Table.of(name, columns).columns
        return Table(name, self.columns + extra, doc or self.doc)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> dict[str, pl.DataType | type[pl.DataType]]:
        """The polars schema (column order = the table's)."""
        return {c.name: c.dtype for c in self.columns}

    @property
    def docs(self) -> dict[str, str]:
        return {c.name: c.doc for c in self.columns}

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def ddl(self, *, replace: bool = False) -> str:
        """`CREATE TABLE` for the table (empty), e.g. for fixtures and for a source with no rows yet."""
        cols = ", ".join(f'"{c.name}" {c.duckdb_type}' for c in self.columns)
        verb = "create or replace table" if replace else "create table if not exists"
        return f'{verb} "{self.name}" ({cols})'

    def comment_sql(self) -> list[str]:
        """`COMMENT ON` statements that write the docs into DuckDB's catalog (shown by DuckDB tools)."""
        statements = [f"comment on table \"{self.name}\" is {_literal(self.doc)}"] if self.doc else []
        statements += [f'comment on column "{self.name}"."{c.name}" is {_literal(c.doc)}'
                       for c in self.columns if c.doc]
        return statements

    def frame(self, rows: Iterable[Mapping[str, Any]] | None = None) -> pl.DataFrame:
        """A frame of `rows` (dicts; missing keys are null) with exactly this table's schema."""
        rows = list(rows or [])
        if not rows:
            return pl.DataFrame(schema=self.schema)
        return pl.DataFrame([{n: r.get(n) for n in self.names} for r in rows], schema=self.schema)

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` with this table's columns, order and types (a missing column is an error)."""
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise ValueError(f"table {self.name}: frame lacks column(s) {', '.join(missing)}")
        return frame.select([pl.col(c.name).cast(c.dtype) for c in self.columns])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
