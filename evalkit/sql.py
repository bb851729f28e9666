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
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        # other drivers send a text of several statements as it is, past the checks below
        raise EvalDataError(f"the URL in {source.url_env} names the PostgreSQL driver "
                            f"{url.get_driver_name()}; evalkit reads PostgreSQL through "
                            f"psycopg 3: write it postgresql://... or postgresql+psycopg://...",
                            source=source.name)
    if (url.get_backend_name() == "sqlite" and url.database
            and url.database != ":memory:" and not url.database.startswith("file:")):
        # opened read-only: no write, no new file (not even through ATTACH)
        url = url.set(database=f"file:{url.database}",
                      query={**url.query, "mode": "ro", "uri": "true"})
    return raw.strip(), url


_SECRET_KEY = re.compile(r"pass|pwd|secret|token|key|credential|odbc_connect", re.I)


def _secrets(raw: str, url) -> list[str]:
    """Strings no message may contain.

    The URL as given and as SQLAlchemy writes it, its password, and the values of query
    options that carry one (``?password=``, ``?sslpassword=``, an ODBC connection string).
    """
    found = [raw, url.render_as_string(hide_password=False)]
    if url.password:
        found.append(str(url.password))
    for key, value in url.query.items():
        if _SECRET_KEY.search(key):
            found.extend([value] if isinstance(value, str) else list(value))
    return sorted({s for s in found if s}, key=len, reverse=True)


def _redact(text: str, secrets: list[str], fallback: str) -> str:
    """``text`` without any secret; ``fallback`` if one occurs in it at all.

    Masking a secret where it occurs would still tell it (a password "test" masked inside a
    user name "evalkit_test" reads "evalkit_***"): a message holding one is not shown.
    """
    return fallback if any(s in text for s in secrets) else text


#: What a database quotes in a message ("x", 'x'), and the DETAIL part that shows rows.
_QUOTED = re.compile(r'"((?:[^"]|"")*)"|\'((?:[^\']|\'\')*)\'')
_DETAIL = re.compile(r"\b(DETAIL|HINT|CONTEXT):.*$", re.S)


def _database_message(exc: BaseException, query: str | None = None) -> str:
    """The database's own words, less SQLAlchemy's statement echo and any data value.

    For a failed query (``query`` given), a quoted value that the query's text does not
    hold came from the data, and may be a case identifier: it is withheld (``column "x"
    does not exist`` keeps the name the query wrote; ``invalid input syntax for type
    integer: "MLM-0042"`` does not show the id). So are the lines after DETAIL, HINT or
    CONTEXT, which can show a row.
    """
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    text = re.split(r"\n\[SQL:|\n\(Background on this error", text)[0]
    if query is not None:
        text = _DETAIL.sub("", text)

        def keep(m: re.Match) -> str:
            inner = m[1] if m[1] is not None else m[2]
            return m[0] if inner and inner in query else '"(a value, withheld)"'

        text = _QUOTED.sub(keep, text)
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
    withheld = (f"the database's message is not shown, as it would show part of the URL in "
                f"{source.url_env}")
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        # every transaction of the session read-only (not only the first), a statement
        # timeout, and times in UTC whatever the login's time zone
        connect_args["connect_timeout"] = max(1, int(source.timeout))
        given = url.query.get("options")  # the URL's own server options come first
        connect_args["options"] = " ".join(filter(None, [
            given if isinstance(given, str) else " ".join(given or ()),
            "-c default_transaction_read_only=on",
            f"-c statement_timeout={int(source.timeout * 1000)}", "-c TimeZone=UTC"]))
    elif backend == "duckdb":
        # read-only, and no file written or read outside the database (COPY ... TO)
        connect_args["read_only"] = True
        connect_args["config"] = {"enable_external_access": False}
    try:
        engine = sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)
    except ImportError as exc:
        raise EvalDataError(f"the driver the URL in {source.url_env} names is not installed "
                            f"({exc}); PostgreSQL's comes with pip install "
                            f"'evalkit-programs[sql]'", source=source.name) from None
    except Exception as exc:  # noqa: BLE001 - a bad URL option, an unknown dialect
        raise EvalDataError(f"the URL in {source.url_env} cannot be used: " + _redact(
            _database_message(exc), secrets, withheld), source=source.name) from None
    try:
        try:
            conn = engine.connect()
        except Exception as exc:  # noqa: BLE001 - every driver raises its own
            raise EvalDataError(
                f"cannot connect to the database at {_where(url)} (from {source.url_env}) "
                f"within {source.timeout} s: "
                + _redact(_database_message(exc), secrets, withheld),
                source=source.name) from None
        with conn:
            try:
                _read_only(conn, backend, source.timeout)
                got = _execute(conn, backend, source)
                if got is None:
                    raise EvalDataError("the query returns no table (it must be a SELECT)",
                                        source=source.name)
                columns, rows = got
            except EvalDataError:
                conn.rollback()
                raise
            except Exception as exc:  # noqa: BLE001 - the database's message is the point
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise EvalDataError("the query failed: " + _redact(
                    _database_message(exc, query=source.query), secrets, withheld),
                    source=source.name) from None
            conn.rollback()  # nothing the query did is kept, whatever the database
    finally:
        engine.dispose()
    taken_at = datetime.now(UTC).isoformat(timespec="seconds")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise EvalDataError(f"the query returns the column name(s) {', '.join(dupes)} more "
                            f"than once; give each column its own name (AS ...)",
                            source=source.name)
    if not rows:
        raise EvalDataError("the query returned no rows (check its WHERE clause and "
                            "parameters)", source=source.name)
    try:
        df = _frame(rows, columns, set(text_columns))
    except (TypeError, ValueError, OverflowError) as exc:
        raise EvalDataError(f"the query's rows cannot be read as a table: {exc}",
                            source=source.name) from None
    df.attrs["evalkit_origin"] = {"source": source.name, "row_word": "", "offset": 1}
    snap = Snapshot(
        query_sha256=source.query_sha256, params=_jsonable(source.params),
        url_env=source.url_env, rows=len(df),
        columns={c: str(df[c].dtype) for c in df.columns},
        rows_sha256=rows_sha256(df), taken_at=taken_at,
        query_file=str(source.query_file) if source.query_file else None)
    return df, snap


def _execute(conn: Any, backend: str, source: QuerySource) -> tuple[list[str], Any] | None:
    """Run the query as one statement; its column names and rows (``None``: no table).

    PostgreSQL: a prepared statement, which holds exactly one statement, so a text such as
    ``SELECT 1; COMMIT; DELETE ...`` is refused instead of leaving the read-only transaction.
    SQLite's driver refuses a second statement itself.
    """
    from sqlalchemy import text

    if backend == "postgresql":
        compiled = text(source.query).compile(dialect=conn.dialect)
        params = compiled.construct_params(dict(source.params))
        with conn.connection.dbapi_connection.cursor() as cur:
            cur.execute(str(compiled), params, prepare=True)
            if cur.description is None:
                return None
            return [str(d.name) for d in cur.description], cur.fetchall()
    result = conn.execute(text(source.query), dict(source.params))
    if not result.returns_rows:
        return None
    return [str(c) for c in result.keys()], result.fetchall()


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
        # ATTACH would create a new database file even on a read-only connection
        import sqlite3

        refused = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}
        dbapi.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY if action in refused
                             else sqlite3.SQLITE_OK)


def _frame(rows: Any, columns: list[str], text_columns: set[str]) -> pd.DataFrame:
    """The rows as a frame, as the file reader would give them.

    Identifier columns become text from the values as the database gave them (42 → ``"42"``,
    a NULL stays missing: never ``"42.0"`` or ``"nan"``); exact decimals become floats;
    dates and times become datetimes (times with a zone in UTC, without the zone); lists,
    mappings and bytes (array, JSON and binary columns) become text.
    """
    import decimal

    import pandas as pd

    data: dict[str, Any] = {}
    for i, c in enumerate(columns):
        values = [r[i] for r in rows]
        if c in text_columns:
            data[c] = pd.Series([None if v is None else _text(v) for v in values],
                                dtype=object)
            continue
        if any(isinstance(v, (list, tuple, dict, bytes, bytearray, memoryview))
               for v in values):
            values = [None if v is None else _text(v) for v in values]
        s = pd.Series(values)
        if s.dtype == object:
            kind = pd.api.types.infer_dtype(s, skipna=True)
            if kind == "decimal":
                s = s.map(lambda v: float(v) if isinstance(v, decimal.Decimal) else v
                          ).astype(float)
            elif kind in ("date", "datetime", "datetime64"):
                s = pd.to_datetime(s, utc=any(getattr(v, "tzinfo", None) is not None
                                              for v in values))
                if getattr(s.dtype, "tz", None) is not None:
                    s = s.dt.tz_localize(None)
        if getattr(s.dtype, "tz", None) is not None:  # times with a zone: in UTC, without it
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        data[c] = s
    return pd.DataFrame(data)  # column names are unique (checked by read_query)


def _text(value: Any) -> str:
    """A value as text, the same for the same value (sorted keys for mappings)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


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
