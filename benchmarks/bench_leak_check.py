"""Time the identifier leak check on a big input, against the whole-token regular expression it
replaced, on the same report in one process.

    .venv/bin/python benchmarks/bench_leak_check.py [--ids 7700000] [--report PATH]

The ids are shaped like the sample's case ids ("MLM-00000042"), one per row of a 7.7-million-row
file (a 200 MB CSV); the text is a rendered sample report (``reports/mentoring-site-a``, or
``--report``) with every embedded image, as the runner checks it. The regex side, one
alternation of 500 escaped ids per pattern, is timed on a slice of the ids and scaled: it grows
with the number of ids, while the check grows with the size of the report.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from evalkit.privacy import find_identifiers

ROOT = Path(__file__).resolve().parents[1]


def regex_check(text: str, ids: list[str]) -> list[str]:
    found = []
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        pattern = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(re.escape(i) for i in chunk)
                             + r")(?![A-Za-z0-9])")
        found += pattern.findall(text)
    return sorted(set(found))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", type=int, default=7_700_000)
    ap.add_argument("--report", type=Path,
                    default=ROOT / "reports" / "mentoring-site-a" / "report.html")
    args = ap.parse_args()
    if not args.report.is_file():
        raise SystemExit(f"{args.report} not found: run `make report` first, or pass --report")
    text = args.report.read_text()
    ids = [f"MLM-{i:08d}" for i in range(args.ids)]
    ids[args.ids // 2] = "Survivor"  # one id that does occur (a word in the report)

    t0 = time.perf_counter()
    found = find_identifiers(text, ids)
    ours = time.perf_counter() - t0

    sample = min(len(ids), 100_000)
    t0 = time.perf_counter()
    regex_check(re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", text), ids[:sample])
    per_id = (time.perf_counter() - t0) / sample
    theirs = per_id * len(ids)
    print(f"report: {len(text) / 1e6:.2f} MB; ids: {len(ids):,}; found: {found}")
    print(f"evalkit find_identifiers: {ours:8.2f} s")
    print(f"regex alternation:        {theirs:8.2f} s  (timed on {sample:,} ids, scaled)")
    print(f"ratio: {theirs / ours:.0f}x")


if __name__ == "__main__":
    main()
