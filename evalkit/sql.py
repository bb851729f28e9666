"""Read an evaluation's data straight from a database, read-only, through SQLAlchemy.

An evaluation config's ``data:`` may name a query instead of a file::

    data:
      url_env: EVALKIT_CASES_DB      # the environment variable holding the SQLAlchemy URL
      query: |
        SELECT case_id, ts_intake, ts_6mo FROM outcomes WHERE program = :program
      params: {program: mentoring-a}  # bound by the driver, never pasted into the SQL
      timeout: 60                     # seconds for connecting and for the statement

The URL, and so the password, is read from the environment when the query runs: it is never
written in the config, a report, the manifest or a message. Any SQLAlchemy URL works
(PostgreSQL through psycopg 3, SQL Server, SQLite, DuckDB through duckdb-engine).

What is enforced where:

* **read-only**: PostgreSQL runs the query in a ``READ ONLY`` transaction; SQLite with
  ``PRAGMA query_only``; DuckDB opens the file read-only. Every other database runs it in a
  transaction that is rolled back: give evalkit a login that may only read (SQL Server's
  ``db_datareader``).
* **timeout**: PostgreSQL's ``statement_timeout`` and psycopg's ``connect_timeout``; SQLite's
  progress handler stops a statement past it. Other drivers follow their own settings.

Needs the ``sql`` extra (``pip install 'evalkit-programs[sql]'``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.exceptions import EvalDataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["QuerySource", "Snapshot", "read_query", "rows_sha256", "bind_names",
           "DEFAULT_TIMEOUT"]

#: Seconds allowed to connect, and to run the statement, unless the config says otherwise.
DEFAULT_TIMEOUT = 60
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class QuerySource:
    """A query an evaluation reads its data from.

    Attributes
    ----------
    url_env
        The environment variable holding the database's SQLAlchemy URL.
    query
        The SQL text; values come in as bind parameters (``:name``).
    params
        The bind parameters' values.
    query_file
        The ``.sql`` file the query was read from, if any.
    config
        The config that names the query (for messages).
    timeout
        Seconds allowed to connect and to run the statement.
    """

    url_env: str
    query: str
    params: dict[str, Any] = field(default_factory=dict)
    query_file: Path | None = None
    config: Path | None = None
    timeout: int = DEFAULT_TIMEOUT

    @property
    def query_sha256(self) -> str:
        """SHA-256 of the query text."""
        return hashlib.sha256(self.query.encode("utf-8")).hexdigest()

    @property
    def name(self) -> str:
        """How messages name the query: its file, or the config it is written in."""
        if self.query_file is not None:
            return f"the query in {self.query_file}"
        where = f" of {self.config}" if self.config is not None else ""
        return f"the query{where}"

    @property
    def label(self) -> str:
        """A short description for reports: no URL, no path."""
        what = self.query_file.name if self.query_file is not None else "query"
        return f"database {what} (${self.url_env}), query SHA-256 {self.query_sha256[:12]}"


@dataclass(frozen=True)
class Snapshot:
    """What a query returned, for the manifest: no URL, no rows.

    Attributes
    ----------
    query_sha256, params, url_env
        The query as run.
    rows
        How many rows it returned.
    columns
        Each column's type as read (pandas dtype names).
    rows_sha256
        A hash of the rows' values that does not depend on their order.
    taken_at
        When the query ran (UTC, ISO 8601).
    """

    query_sha256: str
    params: dict[str, Any]
    url_env: str
    rows: int
    columns: dict[str, str]
    rows_sha256: str
    taken_at: str
    query_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``inputs.data`` entry."""
        out = {"kind": "query", "url_env": self.url_env, "query_sha256": self.query_sha256,
               "params": dict(self.params), "rows": self.rows, "columns": dict(self.columns),
               "rows_sha256": self.rows_sha256, "taken_at": self.taken_at}
        if self.query_file:
            out["query_file"] = self.query_file
        return out


def bind_names(query: str) -> set[str]:
    """The bind parameters (``:name``) the query uses, as SQLAlchemy reads them."""
    from sqlalchemy import text

    return set(text(query).compile().params)


def _url(source: QuerySource):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    raw = os.environ.get(source.url_env)
    if raw is None or not raw.strip():
        raise EvalDataError(
            f"the environment variable {source.url_env} is not set; it must hold the "
            f"database's SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db)",
            source=source.name)
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError):
        raise EvalDataError(f"the environment variable {source.url_env} does not hold a "
                            f"SQLAlchemy URL (dialect+driver://user:password@host/database)",
                            source=source.name) from None
    if url.drivername == "postgresql":  # psycopg 3, what the sql extra installs
        url = url.set(drivername="postgresql+psycopg")
    return raw.strip(), url


def _secrets(raw: str, url) -> list[str]:
    """Strings no message may contain: the URL as given, and its password."""
    found = [raw, url.render_as_string(hide_password=False)]
    if url.password:
        found.append(str(url.password))
    return sorted({s for s in found if s}, key=len, reverse=True)


def _redact(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


#: A value the database quotes in its message: ``invalid input syntax for type integer:
#: "MLM-0042"``, ``... out of range: "2024-13-01"``, ``DETAIL: Failing row contains (...)``.
_QUOTED_VALUE = re.compile(r'(:\s*)"(?:[^"]|"")*"|(DETAIL:\s*).*$', re.S)


def _database_message(exc: BaseException) -> str:
    """The database's own words, less SQLAlchemy's statement echo and any quoted data value.

    A quoted value may be a case identifier, so it is withheld.
    """
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    text = re.split(r"\n\[SQL:|\n\(Background on this error", text)[0]
    text = _QUOTED_VALUE.sub(lambda m: (m[1] + '"(value withheld)"') if m[1] is not None
                             else m[2] + "(withheld: it may show data)", text)
    return " ".join(text.split())


def _where(url) -> str:
    host = url.host or url.database or "the database"
    return f"{host}:{url.port}" if url.host and url.port else str(host)


def read_query(source: QuerySource, *, text_columns: tuple[str, ...] | list[str] = ()
               ) -> tuple[pd.DataFrame, Snapshot]:
    """Run ``source``'s query read-only and return its rows and a :class:`Snapshot`.

    Parameters
    ----------
    source
        The query, its parameters and the environment variable with the URL.
    text_columns
        Columns to read as text (identifiers): a number 42 becomes ``"42"``.

    Returns
    -------
    (pandas.DataFrame, Snapshot)
        The rows (``attrs["evalkit_origin"]`` names the query; its rows are counted, not
        numbered) and what the manifest records.

    Raises
    ------
    EvalDataError
        The variable is unset; the database cannot be reached (its host is named, never the
        URL or password); the query fails (the database's message) or tries to write; or it
        returns no rows. Every message names the query.
    """
    try:
        import sqlalchemy as sa
    except ImportError:
        raise EvalDataError("reading a database needs SQLAlchemy: pip install "
                            "'evalkit-programs[sql]'", source=source.name) from None
    raw, url = _url(source)
    secrets = _secrets(raw, url)
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and url.get_driver_name() in ("psycopg", "psycopg2"):
        connect_args["connect_timeout"] = max(1, int(source.timeout))
    elif backend == "duckdb":
        connect_args["read_only"] = True
    try:
        engine = sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)
    except ImportError as exc:
        raise EvalDataError(f"the driver the URL in {source.url_env} names is not installed "
                            f"({exc}); PostgreSQL's comes with pip install "
                            f"'evalkit-programs[sql]'", source=source.name) from None
    except Exception as exc:  # noqa: BLE001 - a bad URL option, an unknown dialect
        raise EvalDataError(_redact(f"the URL in {source.url_env} cannot be used: "
                                    f"{_database_message(exc)}", secrets),
                            source=source.name) from None
    try:
        try:
            conn = engine.connect()
        except Exception as exc:  # noqa: BLE001 - every driver raises its own
            raise EvalDataError(_redact(
                f"cannot connect to the database at {_where(url)} (from {source.url_env}) "
                f"within {source.timeout} s: {_database_message(exc)}", secrets),
                source=source.name) from None
        with conn:
            try:
                _read_only(conn, backend, source.timeout)
                result = conn.execute(sa.text(source.query), dict(source.params))
                if not result.returns_rows:
                    raise EvalDataError("the query returns no table (it must be a SELECT)",
                                        source=source.name)
                columns = [str(c) for c in result.keys()]
                rows = result.fetchall()
            except EvalDataError:
                conn.rollback()
                raise
            except Exception as exc:  # noqa: BLE001 - the database's message is the point
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise EvalDataError(_redact(f"the query failed: {_database_message(exc)}",
                                            secrets), source=source.name) from None
            conn.rollback()  # nothing the query did is kept, whatever the database
    finally:
        engine.dispose()
    taken_at = datetime.now(UTC).isoformat(timespec="seconds")
    df = _frame(rows, columns, set(text_columns))
    if len(df) == 0:
        raise EvalDataError("the query returned no rows (check its WHERE clause and "
                            "parameters)", source=source.name)
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise EvalDataError(f"the query returns the column name(s) {', '.join(dupes)} more "
                            f"than once; give each column its own name (AS ...)",
                            source=source.name)
    df.attrs["evalkit_origin"] = {"source": source.name, "row_word": "", "offset": 1}
    snap = Snapshot(
        query_sha256=source.query_sha256, params=_jsonable(source.params),
        url_env=source.url_env, rows=len(df),
        columns={c: str(df[c].dtype) for c in df.columns},
        rows_sha256=rows_sha256(df), taken_at=taken_at,
        query_file=str(source.query_file) if source.query_file else None)
    return df, snap


def _read_only(conn: Any, backend: str, timeout: int) -> None:
    """Make the transaction read-only, with a statement timeout, where the database can."""
    from sqlalchemy import text

    if backend == "postgresql":
        conn.execute(text("SET TRANSACTION READ ONLY"))
        conn.execute(text("SELECT set_config('statement_timeout', :ms, true)"),
                     {"ms": str(int(timeout * 1000))})
    elif backend == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")
        dbapi = conn.connection.dbapi_connection
        deadline = time.monotonic() + timeout
        dbapi.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)


def _frame(rows: Any, columns: list[str], text_columns: set[str]) -> pd.DataFrame:
    """The rows as a frame: exact decimals as floats, dates as datetimes, ids as text."""
    import decimal

    import pandas as pd

    df = pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)
    for c in df.columns:
        s = df[c]
        if c in text_columns:
            df[c] = s.map(lambda v: v if v is None or isinstance(v, str) else str(v))
            df[c] = df[c].astype(object).where(df[c].notna(), None)
            continue
        if s.dtype == object:
            kind = pd.api.types.infer_dtype(s, skipna=True)
            if kind == "decimal":
                df[c] = s.map(lambda v: float(v) if isinstance(v, decimal.Decimal) else v
                              ).astype(float)
            elif kind in ("date", "datetime", "datetime64"):
                df[c] = pd.to_datetime(s)
    return df


def rows_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, types and rows, whatever the rows' order."""
    import numpy as np
    import pandas as pd

    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(df[c].dtype)] for c in df.columns]).encode())
    if len(df):
        rows = np.sort(pd.util.hash_pandas_object(df, index=False).to_numpy())
        h.update(rows.tobytes())
    return h.hexdigest()


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {str(k): (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
            for k, v in params.items()}


def check_env_name(name: str) -> bool:
    """Whether ``name`` can be an environment variable's name."""
    return bool(_ENV_NAME.match(name))
