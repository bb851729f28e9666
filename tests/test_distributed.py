"""Evaluations as tasks on a real Dask cluster (``dask.distributed.LocalCluster``, 2 worker
processes): the reports equal a local run's, failures stay isolated, a run that dies is
submitted once more, a killed worker's evaluation runs again, and a scheduler that does not
answer is named."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE, custom_template, sample_config

from evalkit.run import run_all
from evalkit.run.distributed import SchedulerUnreachable

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

STAMP = re.compile(rb'"(generated_at|started_at|finished_at|start_time|end_time|duration)"'
                   rb': *[^,}]*|20\d\d-\d\d-\d\d[T ][0-9:.+Z-]+')


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


def _same(a: Path, b: Path) -> bool:
    return STAMP.sub(b"X", a.read_bytes()) == STAMP.sub(b"X", b.read_bytes())


def test_every_sample_evaluation_renders_as_a_local_run_does(cluster, tmp_path):
    configs = sorted((ROOT / "evaluations").glob("*.yaml"))
    local = run_all(configs, tmp_path / "local", jobs=2, echo=lambda s: None)
    remote = run_all(configs, tmp_path / "dask", echo=lambda s: None,
                     scheduler=cluster.scheduler_address)
    assert all(o.ok for o in [*local, *remote]), [o.message for o in [*local, *remote]]
    for c in configs:
        for name in ("report.html", "report.ipynb", "results.json"):
            assert _same(tmp_path / "local" / c.stem / name, tmp_path / "dask" / c.stem / name), \
                (c.stem, name)
    import json

    m = json.loads((tmp_path / "dask" / "mentoring-site-a" / "manifest.json").read_text())
    assert m["ran_on"] == "dask" and m["config"]["path"] == str(configs[3])
    assert m["inputs"]["data"]["path"].startswith(str(ROOT))
    # the same run key as a local run: a later local run finds the report up to date
    again = run_all(configs[3:4], tmp_path / "dask", jobs=1, echo=lambda s: None)
    assert again[0].skipped


def test_a_run_that_dies_is_submitted_once_more_and_failures_stay_alone(cluster, tmp_path,
                                                                       monkeypatch):
    marker = tmp_path / "die-once"
    marker.touch()
    custom_template(tmp_path, (
        "import os, pathlib\n"
        f"_m = pathlib.Path({str(marker)!r})\n"
        "if title.startswith('DIE') or (_m.exists() and not _m.unlink()):\n"
        "    _run = os.getppid()  # the evaluation's process: the kernel's parent, or its forker's\n"
        "    if open(f'/proc/{_run}/comm').read().strip() == 'evalkit-forker':\n"
        "        _run = int(open(f'/proc/{_run}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "    os.kill(_run, 9)\n"), monkeypatch)
    once = sample_config(tmp_path, "mentoring-site-a", "once")
    always = sample_config(tmp_path, "mentoring-site-a", "always", top_title="DIE every time")
    bad = sample_config(tmp_path, "mentoring-site-a", "bad", post="no_such_column")
    lines: list[str] = []
    out = {o.slug: o for o in run_all([once, always, bad], tmp_path / "r", echo=lines.append,
                                      scheduler=cluster.scheduler_address)}
    assert out["once"].ok, out["once"].message
    assert not out["always"].ok and "died" in out["always"].message
    assert "twice" in out["always"].message
    assert not out["bad"].ok and out["bad"].stage == "data"
    # the message names the client's data file, not the worker's private copy
    assert out["bad"].message.startswith(f"{SAMPLE / 'mentoring_site_a.csv'}: column "
                                         "'no_such_column'")
    assert "evalkit-task-" not in out["bad"].message
    assert sum("submitting it once more" in line for line in lines) == 2  # once, always
    assert (tmp_path / "r" / "once" / "report.html").is_file()
    assert not (tmp_path / "r" / "always").exists()


def test_a_worker_killed_mid_evaluation_is_replaced_and_the_evaluation_runs_again(
        cluster, tmp_path, monkeypatch):
    with distributed.Client(cluster) as client:
        workers = set(client.run(os.getpid).values())
    (tmp_path / "workers").write_text(" ".join(map(str, workers)))
    marker = tmp_path / "kill-once"
    marker.touch()
    # the kernel walks up its ancestors to the Dask worker process that holds its task
    custom_template(tmp_path, (
        "import os, pathlib\n"
        f"_m = pathlib.Path({str(marker)!r})\n"
        f"_workers = {{int(p) for p in open({str(tmp_path / 'workers')!r}).read().split()}}\n"
        "if _m.exists() and not _m.unlink():\n"
        "    _p = os.getpid()\n"
        "    while _p not in _workers and _p > 1:\n"
        "        _p = int(open(f'/proc/{_p}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "    os.kill(_p, 9)\n"), monkeypatch)
    cfg = sample_config(tmp_path, "mentoring-site-a", "killed")
    out = run_all([cfg], tmp_path / "r", echo=lambda s: None,
                  scheduler=cluster.scheduler_address)
    assert not marker.exists()  # the first try reached the kill
    assert out[0].ok, out[0].message
    assert (tmp_path / "r" / "killed" / "report.html").is_file()
    with distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        now = set(client.run(os.getpid).values())
    assert len(now - workers) == 1  # the killed worker was replaced by a new process


def test_an_evaluation_reading_a_database_runs_here_not_on_the_cluster(cluster, tmp_path,
                                                                       monkeypatch):
    pytest.importorskip("sqlalchemy", reason="the sql extra is not installed")
    import sqlite3

    import pandas as pd
    import yaml

    db = tmp_path / "cases.sqlite"
    with sqlite3.connect(db) as conn:
        pd.read_csv(SAMPLE / "mentoring_site_a.csv", dtype={"case_id": str}).to_sql(
            "outcomes", conn, index=False)
    monkeypatch.setenv("EVALKIT_TEST_CASES_DB", f"sqlite:///{db}")
    cfg = sample_config(tmp_path, "mentoring-site-a", "from-db")
    raw = yaml.safe_load(cfg.read_text())
    raw["data"] = {"url_env": "EVALKIT_TEST_CASES_DB", "query": "SELECT * FROM outcomes"}
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = run_all([cfg], tmp_path / "r", echo=lambda s: None,
                  scheduler=cluster.scheduler_address)
    assert out[0].ok, out[0].message
    import json

    m = json.loads((tmp_path / "r" / "from-db" / "manifest.json").read_text())
    assert "ran_on" not in m  # the URL was never sent to a worker
    assert m["inputs"]["data"]["kind"] == "query"


def test_a_scheduler_that_does_not_answer_is_named(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from evalkit.run import distributed as dist

    address = f"tcp://127.0.0.1:{port}"
    t = time.perf_counter()
    with pytest.raises(SchedulerUnreachable, match=rf"no Dask scheduler answered at "
                                                   rf"{address} within 2 s"):
        dist.connect(address, timeout=2)
    assert time.perf_counter() - t < 10
    cfg = sample_config(tmp_path, "mentoring-site-a", "x")
    dist_timeout = dist.CONNECT_TIMEOUT
    try:
        dist.CONNECT_TIMEOUT = 2
        with pytest.raises(SchedulerUnreachable, match=r"Not run: x"):
            run_all([cfg], tmp_path / "r", scheduler=address, echo=lambda s: None)
    finally:
        dist.CONNECT_TIMEOUT = dist_timeout
