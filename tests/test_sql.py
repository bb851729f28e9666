"""Evaluations that read their data from a database: a real PostgreSQL server, SQLite, DuckDB.

The PostgreSQL tests start a throwaway server (:mod:`pgserver`) and skip, saying why, where
none can be started. The sample data are loaded into tables; an evaluation run from SQL must
give exactly the CSV run's results, and no output may contain the URL or the password.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SAMPLE, write_config

from evalkit.exceptions import ConfigError, EvalDataError
from evalkit.run import load_config, run_all, run_evaluation
from evalkit.sql import QuerySource, read_query, rows_sha256

sa = pytest.importorskip("sqlalchemy", reason="the sql extra is not installed")

ENV = "EVALKIT_TEST_CASES_DB"
# in the CSV file's order (``line``), so that sums run in the same order as the CSV run's
QUERY = ("SELECT case_id, site, age, enrolled_year, ts_intake, ts_6mo, school_intake, "
         "school_6mo FROM outcomes WHERE program = :program ORDER BY line")
STAMP = re.compile(r'"(generated_at|started_at|finished_at)": *"[^"]*"')


def _sample_frame() -> pd.DataFrame:
    a = pd.read_csv(SAMPLE / "mentoring_site_a.csv", dtype={"case_id": str})
    b = pd.read_csv(SAMPLE / "mentoring_site_b.csv", dtype={"case_id": str})
    both = pd.concat([a.assign(program="mentoring-a"), b.assign(program="mentoring-b")],
                     ignore_index=True)
    return both.assign(line=range(len(both)))


def sql_config(folder: Path, slug: str, data: dict) -> Path:
    """The site A sample config reading ``data`` (a ``data:`` mapping) instead of its CSV."""
    return write_config(folder, slug, data=data)


def _results(folder: Path) -> dict:
    doc = json.loads(STAMP.sub('"t": "X"', (folder / "results.json").read_text()))
    return doc


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """The CSV run of the site A sample every database run is compared with."""
    d = tmp_path_factory.mktemp("csv")
    (d / "cfg").mkdir()
    o = run_evaluation(write_config(d / "cfg", "site-a"), d / "reports")
    assert o.ok, o.message
    return d / "reports" / "site-a"


# --- PostgreSQL ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pg():
    import pgserver

    try:
        server = pgserver.start()
    except pgserver.Unavailable as exc:
        pytest.skip(f"no PostgreSQL server could be started: {exc}")
    try:
        engine = sa.create_engine(server.url)
        _sample_frame().to_sql("outcomes", engine, index=False)
        engine.dispose()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_env(pg, monkeypatch):
    monkeypatch.setenv(ENV, pg.url)
    return pg


def _execute(url: str, *statements: str) -> None:
    """Run ``statements`` in one committed transaction (the tests' own writable login)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as c:
            for statement in statements:
                c.execute(sa.text(statement))
    finally:
        engine.dispose()


def _no_secret_anywhere(folder: Path, secrets: list[str]) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for s in secrets:
                assert s.encode() not in data, f"{s!r} found in {f}"


def test_an_evaluation_from_postgresql_gives_the_csv_runs_results(pg_env, csv_run, tmp_path,
                                                                 capfd):
    cfg = sql_config(tmp_path, "site-a", {"url_env": ENV, "query": QUERY,
                                          "params": {"program": "mentoring-a"}})
    o = run_evaluation(cfg, tmp_path / "reports")
    assert o.ok, o.message
    got = tmp_path / "reports" / "site-a"
    assert _results(got) == _results(csv_run)
    manifest = json.loads((got / "manifest.json").read_text())
    data = manifest["inputs"]["data"]
    assert data["kind"] == "query" and data["url_env"] == ENV
    assert data["params"] == {"program": "mentoring-a"}
    assert data["rows"] == len(pd.read_csv(SAMPLE / "mentoring_site_a.csv"))
    assert data["columns"]["ts_6mo"] == "float64" and data["columns"]["case_id"] == "object"
    import hashlib

    assert data["query_sha256"] == hashlib.sha256(QUERY.encode()).hexdigest()
    assert re.match(r"\d{4}-\d\d-\d\dT", data["taken_at"])
    assert manifest["run_key_inputs"]["data_sha256"] == data["rows_sha256"]
    # the appendix names the query, not a file
    assert f"${ENV}" in (got / "report.html").read_text()
    out, err = capfd.readouterr()
    secrets = [pg_env.password, pg_env.url, f"127.0.0.1:{pg_env.port}"]
    _no_secret_anywhere(tmp_path / "reports", secrets)
    assert not any(s in out + err for s in secrets)


def test_a_query_file_and_the_up_to_date_check_follow_the_rows(pg_env, tmp_path):
    (tmp_path / "site_b.sql").write_text(QUERY.replace(":program", ":p"))
    cfg = sql_config(tmp_path, "site-b", {"url_env": ENV, "query_file": "site_b.sql",
                                          "params": {"p": "mentoring-b"}})
    reports = tmp_path / "reports"
    first = run_all([cfg], reports, jobs=1, echo=lambda s: None)
    assert first[0].ok, first[0].message
    manifest = json.loads((reports / "site-b" / "manifest.json").read_text())
    assert manifest["inputs"]["data"]["query_file"] == str(tmp_path / "site_b.sql")
    again = run_all([cfg], reports, jobs=1, echo=lambda s: None)
    assert again[0].skipped
    shift = ("UPDATE outcomes SET ts_6mo = ts_6mo {} 1 WHERE case_id = (SELECT min(case_id) "
             "FROM outcomes WHERE program = 'mentoring-b' AND ts_6mo IS NOT NULL)")
    _execute(pg_env.url, shift.format("+"))
    try:
        changed = run_all([cfg], reports, jobs=1, echo=lambda s: None)
    finally:
        _execute(pg_env.url, shift.format("-"))
    assert changed[0].ok and not changed[0].skipped


def _fails(cfg: Path, reports: Path):
    o = run_evaluation(cfg, reports)
    assert not o.ok
    return o


def test_bad_database_inputs_fail_alone_with_clear_messages(pg_env, tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    good = sql_config(tmp_path, "good", {"url_env": ENV, "query": QUERY,
                                         "params": {"program": "mentoring-a"}})
    cases = {
        "unset": ({"url_env": "EVALKIT_TEST_NOT_SET", "query": "SELECT 1 AS x"},
                  r"the environment variable EVALKIT_TEST_NOT_SET is not set"),
        "bad-column": ({"url_env": ENV, "query": "SELECT no_such_column FROM outcomes"},
                       r"the query failed: .*no_such_column.* does not exist"),
        "no-rows": ({"url_env": ENV, "query": QUERY, "params": {"program": "nobody"}},
                    r"the query returned no rows"),
        "duplicates": ({"url_env": ENV, "query": f"({QUERY}) UNION ALL (SELECT case_id, site, "
                                                 "age, enrolled_year, ts_intake, ts_6mo, "
                                                 "school_intake, school_6mo FROM outcomes "
                                                 "WHERE case_id = 'MLM-17979' "
                                                 "ORDER BY line)",
                        "params": {"program": "mentoring-a"}},
                       r"column 'case_id': 1 identifier value\(s\) appear on more than one "
                       r"row in 2 rows; expected a unique"),
        "cast": ({"url_env": ENV, "query": "SELECT CAST(case_id AS integer) AS x FROM outcomes"},
                 r'the query failed: invalid input syntax for type integer: "\(a value, withheld\)"'),
        "two-statements": ({"url_env": ENV, "query": "SELECT 1 AS a; COMMIT; "
                                                     "DELETE FROM outcomes"},
                           r"the query failed: cannot insert multiple commands into a "
                           r"prepared statement"),
        "writes": ({"url_env": ENV, "query": "WITH gone AS (DELETE FROM outcomes RETURNING *) "
                                             "SELECT * FROM gone"},
                   r"the query failed: .*read-only transaction"),
    }
    configs = {slug: sql_config(tmp_path, slug, data) for slug, (data, _) in cases.items()}
    outcomes = {o.slug: o for o in run_all([good, *configs.values()], reports, jobs=2,
                                           echo=lambda s: None)}
    assert outcomes["good"].ok, outcomes["good"].message
    for slug, (_, pattern) in cases.items():
        o = outcomes[slug]
        assert not o.ok and o.stage == "data", (slug, o.message)
        assert re.search(pattern, o.message, re.S | re.I), (slug, o.message)
        assert o.message.startswith(f"the query of {configs[slug].resolve()}"), o.message
        assert pg_env.password not in o.message and pg_env.url not in o.message
    # the rows a duplicated id sits on are counted, never the id shown; nor the value a
    # failing cast quotes
    assert "MLM-17979" not in outcomes["duplicates"].message
    assert "MLM-" not in outcomes["cast"].message
    # the write was refused: every row is still there
    engine = sa.create_engine(pg_env.url)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM outcomes")).scalar() == len(
            _sample_frame())
    engine.dispose()
    _no_secret_anywhere(reports, [pg_env.password, pg_env.url])


def test_an_unreachable_database_is_named_by_host_within_the_timeout(pg, tmp_path,
                                                                     monkeypatch):
    import pgserver

    port = pgserver._free_port()  # nothing listens there
    url = f"postgresql://evalkit_test:{pg.password}@127.0.0.1:{port}/postgres"
    monkeypatch.setenv(ENV, url)
    cfg = sql_config(tmp_path, "down", {"url_env": ENV, "query": "SELECT 1 AS x",
                                        "timeout": 3})
    t = time.monotonic()
    o = _fails(cfg, tmp_path / "reports")
    assert time.monotonic() - t < 30
    assert f"cannot connect to the database at 127.0.0.1:{port} (from {ENV}) within 3 s" \
        in o.message
    assert pg.password not in o.message and "postgresql://" not in o.message


def test_a_wrong_password_is_refused_without_showing_it(pg, tmp_path, monkeypatch):
    wrong = "not-the-password-" + "x" * 8
    monkeypatch.setenv(ENV, f"postgresql+psycopg://evalkit_test:{wrong}@127.0.0.1:{pg.port}/"
                            "postgres")
    cfg = sql_config(tmp_path, "wrong", {"url_env": ENV, "query": "SELECT 1 AS x"})
    o = _fails(cfg, tmp_path / "reports")
    assert "password authentication failed" in o.message
    assert wrong not in o.message
    _no_secret_anywhere(tmp_path / "reports", [wrong])


def test_values_from_the_data_are_withheld_from_messages_names_from_the_query_kept(pg_env):
    with pytest.raises(EvalDataError) as err:
        read_query(QuerySource(url_env=ENV, query="SELECT to_date(case_id, 'YYYY') AS d "
                                                  "FROM outcomes"))
    text = str(err.value)
    assert "MLM-" not in text and "(a value, withheld)" in text and "YYYY" in text
    with pytest.raises(EvalDataError, match='column "no_such" does not exist'):
        read_query(QuerySource(url_env=ENV, query="SELECT no_such FROM outcomes"))


def test_a_psycopg2_url_is_refused_as_it_would_run_several_statements(pg_env, monkeypatch):
    monkeypatch.setenv(ENV, pg_env.url.replace("+psycopg:", "+psycopg2:"))
    with pytest.raises(EvalDataError, match="evalkit reads PostgreSQL through psycopg 3"):
        read_query(QuerySource(url_env=ENV, query="SELECT 1 AS x"))


def test_ids_with_a_null_json_and_zoned_times_arrive_as_text_and_utc(pg_env):
    _execute(pg_env.url,
             "CREATE TABLE odd (id integer, tags text[], extra jsonb, at timestamptz)",
             "INSERT INTO odd VALUES (42, '{a,b}', '{\"k\": 1}', '2024-01-01 00:00+00'), "
             "(NULL, NULL, NULL, NULL), (43, '{c}', '{\"k\": 2}', '2024-01-01 00:00-05')",
             # a login whose time zone is not UTC: the times still arrive in UTC
             "ALTER ROLE evalkit_test SET TimeZone = 'America/New_York'")
    try:
        df, snap = read_query(QuerySource(url_env=ENV, query="SELECT * FROM odd ORDER BY id"),
                              text_columns=("id",))
    finally:
        _execute(pg_env.url, "ALTER ROLE evalkit_test RESET TimeZone")
    assert df["id"].tolist() == ["42", "43", None]  # never "42.0" or "nan"
    assert df["tags"].tolist()[:2] == ['["a", "b"]', '["c"]']
    assert df["extra"].tolist()[0] == '{"k": 1}'
    assert [str(t) for t in df["at"][:2]] == ["2024-01-01 00:00:00", "2024-01-01 05:00:00"]
    assert len(snap.rows_sha256) == 64


def test_a_query_past_its_timeout_is_stopped_by_postgresql(pg_env):
    src = QuerySource(url_env=ENV, query="SELECT pg_sleep(30) AS x", timeout=1)
    t = time.monotonic()
    with pytest.raises(EvalDataError, match="statement timeout"):
        read_query(src)
    assert time.monotonic() - t < 15


def test_postgresql_types_arrive_as_the_csv_reader_gives_them(pg_env):
    _execute(pg_env.url,
             "CREATE TABLE typed (id integer, score numeric(6, 2), seen date, at timestamp, "
             "label text)",
             "INSERT INTO typed VALUES (42, 12.50, '2024-03-01', '2024-03-01 10:00', 'a'), "
             "(7, NULL, NULL, NULL, NULL)")
    df, snap = read_query(QuerySource(url_env=ENV, query="SELECT * FROM typed ORDER BY id"),
                          text_columns=("id",))
    assert df["id"].tolist() == ["7", "42"]  # ids as text
    assert str(df["score"].dtype) == "float64" and df["score"].iloc[1] == 12.5
    assert str(df["seen"].dtype).startswith("datetime64")
    assert snap.rows == 2 and snap.columns["score"] == "float64"


# --- SQLite and DuckDB: no server ----------------------------------------------------------

@pytest.fixture
def sqlite_db(tmp_path, monkeypatch):
    path = tmp_path / "cases.sqlite"
    with sqlite3.connect(path) as conn:
        _sample_frame().to_sql("outcomes", conn, index=False)
    monkeypatch.setenv(ENV, f"sqlite:///{path}")
    return path


def test_an_evaluation_from_sqlite_gives_the_csv_runs_results(sqlite_db, csv_run, tmp_path):
    cfg = sql_config(tmp_path, "site-a", {"url_env": ENV, "query": QUERY,
                                          "params": {"program": "mentoring-a"}})
    o = run_evaluation(cfg, tmp_path / "reports")
    assert o.ok, o.message
    assert _results(tmp_path / "reports" / "site-a") == _results(csv_run)


def test_sqlite_refuses_a_write_and_stops_a_long_query(sqlite_db):
    with pytest.raises(EvalDataError, match="readonly|read-only|query_only"):
        read_query(QuerySource(url_env=ENV, query="DELETE FROM outcomes RETURNING case_id"))
    with sqlite3.connect(sqlite_db) as conn:
        assert conn.execute("SELECT count(*) FROM outcomes").fetchone()[0] == len(
            _sample_frame())
    endless = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
               "SELECT max(i) AS i FROM n")
    t = time.monotonic()
    with pytest.raises(EvalDataError, match="the query failed: interrupted"):
        read_query(QuerySource(url_env=ENV, query=endless, timeout=1))
    assert time.monotonic() - t < 10


def test_sqlite_opens_no_new_file(tmp_path, sqlite_db, monkeypatch):
    new = tmp_path / "new.sqlite"
    with pytest.raises(EvalDataError, match="the query failed"):
        read_query(QuerySource(url_env=ENV, query=f"ATTACH DATABASE '{new}' AS n"))
    missing = tmp_path / "missing.sqlite"
    monkeypatch.setenv(ENV, f"sqlite:///{missing}")
    with pytest.raises(EvalDataError, match="cannot connect|the query failed"):
        read_query(QuerySource(url_env=ENV, query="SELECT 1 AS x"))
    assert not new.exists() and not missing.exists()


def test_a_message_holding_part_of_the_url_is_not_shown():
    from sqlalchemy.engine import make_url

    from evalkit.sql import _redact, _secrets

    raw = "postgresql+psycopg://evalkit_test:test@db.example/cases?sslpassword=k3y-k3y"
    secrets = _secrets(raw, make_url(raw))
    assert "test" in secrets and "k3y-k3y" in secrets
    # masking "test" in the user name would read "evalkit_***" and tell the password
    assert _redact('password authentication failed for user "evalkit_test"', secrets,
                   "withheld") == "withheld"
    assert _redact("connection refused", secrets, "withheld") == "connection refused"


def test_an_evaluation_from_duckdb_gives_the_csv_runs_results(csv_run, tmp_path, monkeypatch):
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed")
    pytest.importorskip("duckdb_engine", reason="duckdb-engine is not installed")
    path = tmp_path / "cases.duckdb"
    frame = _sample_frame()  # noqa: F841 - read by DuckDB by name
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE outcomes AS SELECT * FROM frame")
    con.close()
    monkeypatch.setenv(ENV, f"duckdb:///{path}")
    cfg = sql_config(tmp_path, "site-a", {"url_env": ENV, "query": QUERY.replace(
        ":program", ":program"), "params": {"program": "mentoring-a"}})
    o = run_evaluation(cfg, tmp_path / "reports")
    assert o.ok, o.message
    assert _results(tmp_path / "reports" / "site-a") == _results(csv_run)
    with pytest.raises(EvalDataError, match="read-only"):
        read_query(QuerySource(url_env=ENV, query="DELETE FROM outcomes RETURNING case_id"))
    # no file is written outside the database
    out = tmp_path / "copied.csv"
    with pytest.raises(EvalDataError, match="the query failed"):
        read_query(QuerySource(url_env=ENV, query=f"COPY (SELECT * FROM outcomes) TO '{out}'"))
    assert not out.exists()


def test_the_rows_hash_ignores_row_order_but_not_values():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", None]})
    assert rows_sha256(df) == rows_sha256(df.iloc[::-1].reset_index(drop=True))
    changed = df.copy()
    changed.loc[0, "a"] = 1.5
    assert rows_sha256(changed) != rows_sha256(df)
    assert rows_sha256(df.rename(columns={"a": "c"})) != rows_sha256(df)


# --- config checks -------------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    ({"url_env": "postgresql://u:p@h/db", "query": "SELECT 1"},
     "'data.url_env' must name an environment variable"),
    ({"url_env": ENV}, "'data' needs exactly one of 'query'"),
    ({"url_env": ENV, "query": "SELECT 1", "query_file": "q.sql"},
     "'data' needs exactly one of 'query'"),
    ({"url_env": ENV, "query_file": "missing.sql"}, "'data.query_file': file not found"),
    ({"url_env": ENV, "query": "SELECT * FROM t WHERE p = :program"},
     "the query uses :program but 'data.params' gives no program"),
    ({"url_env": ENV, "query": "SELECT 1", "params": {"program": "a"}},
     "'data.params.program' is not used by the query"),
    ({"url_env": ENV, "query": "SELECT * FROM t WHERE p = :p", "params": {"p": [1, 2]}},
     "'data.params' must map names to single values"),
    ({"url_env": ENV, "query": "SELECT 1", "url": "sqlite://"}, "unknown key 'data.url'"),
    ({"url_env": ENV, "query": "SELECT 1", "timeout": 0},
     "'data.timeout' must be a positive whole number"),
])
def test_a_bad_data_mapping_is_refused_naming_the_key(tmp_path, data, message):
    with pytest.raises(ConfigError) as err:
        load_config(sql_config(tmp_path, "bad", data))
    assert message in str(err.value)
    assert str(tmp_path / "bad.yaml") in str(err.value)


def test_a_query_source_refuses_an_excel_sheet(tmp_path):
    path = sql_config(tmp_path, "sheet", {"url_env": ENV, "query": "SELECT 1"})
    raw = yaml.safe_load(path.read_text())
    raw["data_sheet"] = "Sheet1"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="'data_sheet' is for Excel files"):
        load_config(path)


def test_a_config_never_holds_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, "postgresql://evalkit:s3cret-pw@db.example/cases")
    cfg = load_config(sql_config(tmp_path, "ok", {"url_env": ENV, "query": QUERY,
                                                  "params": {"program": "mentoring-a"}}))
    assert cfg.data_query is not None and cfg.data_query.url_env == ENV
    assert os.environ[ENV] not in repr(cfg) and "s3cret-pw" not in repr(cfg)


def test_the_urls_own_server_options_are_kept_and_ours_win(pg_env, monkeypatch):
    monkeypatch.setenv(ENV, pg_env.url + "?options=-c%20application_name%3Dcases"
                                         "%20-c%20default_transaction_read_only%3Doff")
    src = QuerySource(url_env=ENV, query="SELECT current_setting('application_name') AS a, "
                                         "current_setting('default_transaction_read_only') AS r")
    df, _ = read_query(src)
    assert df.iloc[0].tolist() == ["cases", "on"]
