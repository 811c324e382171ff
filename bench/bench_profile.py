"""Profiling a 1M-row CSV end to end (file on disk -> profile): analystack vs DuckDB vs polars.

Input: the demo sales table (``scripts/make_sample_sales.py``'s ``build(rows, seed)``, with its
dirt: missing values, a few prices typed as "$12.5", padded categories, 15 duplicated rows)
cut to 7 columns: order_date, region, category, unit_price, quantity, discount, revenue.

Contenders, each timed from the file path to a finished profile:

* analystack: ``load_table(bytes, "x.csv")`` (type repair: dates, "$" prices) + ``profile_table``
  (exact distinct counts, top values, percentiles, outliers by IQR and z-score, duplicate rows,
  type problems, quality score and issues);
* DuckDB: ``SUMMARIZE SELECT * FROM read_csv_auto(path)`` (approximate distinct counts);
* polars: ``pl.read_csv`` + ``describe()`` + null counts + exact ``n_unique`` per column;
  both sniff column types from a sample of rows, and the few "$" prices then make the read fail:
  when the default call fails the script says so and times the same call with type inference
  over the whole file (``sample_size=-1``, ``infer_schema_length=None``; unit_price stays text);
* ydata-profiling in minimal mode, when it is installed.

One untimed warm-up run each, then the median of ``--repeats`` runs.
Target: analystack <= 1.5x the faster of polars and DuckDB.

Run: .venv/bin/python bench/bench_profile.py [--rows 1000000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["order_date", "region", "category", "unit_price", "quantity", "discount", "revenue"]
SEED = 7
TARGET = 1.5


def write_csv(rows: int, path: Path) -> int:
    """The demo sales table's 7 columns with ``rows`` rows (+ the generator's duplicates)."""
    spec = importlib.util.spec_from_file_location(
        "make_sample_sales", ROOT / "scripts" / "make_sample_sales.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = module.build(rows, SEED)[COLUMNS]
    frame.to_csv(path, index=False)
    return len(frame)


def analystack(path: Path) -> Any:
    from functions.ingestion.loaders import load_table
    from functions.quality.profiling import profile_table

    return profile_table(load_table(path.read_bytes(), "x.csv").frame)


def duckdb_summarize(path: Path, *, full_scan: bool = False) -> Any:
    import duckdb

    options = ", sample_size=-1" if full_scan else ""
    with duckdb.connect() as con:
        return con.sql(f"SUMMARIZE SELECT * FROM read_csv_auto('{path}'{options})").fetchall()


def polars_profile(path: Path, *, full_scan: bool = False) -> Any:
    import polars as pl

    frame = pl.read_csv(path, infer_schema_length=None) if full_scan else pl.read_csv(path)
    return frame.describe(), frame.null_count(), frame.select(pl.all().n_unique())


def with_fallback(label: str, run: Callable[..., Any], path: Path) -> Callable[[Path], Any]:
    """The library's default call, or - when its type sniffing (a sample of the rows) fails on
    the file's dirt - the same call inferring types from every row, with a note saying so."""
    try:
        run(path)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:150]
        print(f"  note: {label} with default type inference failed ({type(exc).__name__}: {first});")
        print("        timed with type inference over the whole file instead")
        return lambda p: run(p, full_scan=True)
    return run


def ydata_minimal(path: Path) -> Any:
    import pandas as pd
    from ydata_profiling import ProfileReport

    return ProfileReport(pd.read_csv(path), minimal=True, progress_bar=False).to_json()


def median_seconds(run: Callable[[Path], Any], path: Path, repeats: int) -> tuple[float, list[float], Any]:
    result = run(path)  # warm-up: first-call costs (lazy imports inside libraries), page cache
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def distinct_counts(report: Any, summary: list[tuple[Any, ...]], polars_out: Any) -> list[str]:
    """Exact (analystack, polars) vs approximate (DuckDB) distinct counts per column."""
    exact = {c.name: c.distinct for c in report.columns_profile}
    approx = {row[0]: row[4] for row in summary}  # SUMMARIZE: column_name, type, min, max, approx_unique
    unique = polars_out[2].row(0, named=True)
    lines = []
    for name in COLUMNS:
        ours, theirs = exact.get(name), approx.get(name)
        gap = f"{(theirs - ours) / ours:+.1%}" if ours and theirs is not None else "-"
        # polars counts null as a value; analystack counts distinct non-null values.
        lines.append(f"  {name:<12}{ours:>12,}{unique.get(name, 0):>12,}{theirs:>14,}{gap:>9}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke test: 200,000 rows, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats = 200_000, 1

    # Import everything first: import time is not profiling time.
    import duckdb
    import polars

    import functions.ingestion.loaders
    import functions.quality.profiling  # noqa: F401

    contenders: list[tuple[str, Callable[..., Any]]] = [
        ("analystack load_table + profile_table", analystack),
        ("DuckDB SUMMARIZE read_csv_auto", duckdb_summarize),
        ("polars read_csv + describe/nulls/n_unique", polars_profile),
    ]
    ydata = importlib.util.find_spec("ydata_profiling") is not None
    if ydata:
        contenders.append(("ydata-profiling minimal", ydata_minimal))

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        path = Path(tmp) / "sales7.csv"
        rows = write_csv(args.rows, path)
        print(
            f"input: {rows:,} rows x {len(COLUMNS)} columns, {path.stat().st_size / 1e6:.1f} MB CSV; "
            f"median of {args.repeats} run(s) after a warm-up; duckdb {duckdb.__version__}, "
            f"polars {polars.__version__}"
        )
        results: dict[str, tuple[float, list[float], Any]] = {}
        for label, run in contenders:
            if run in (duckdb_summarize, polars_profile):
                run = with_fallback(label, run, path)
            results[label] = median_seconds(run, path, args.repeats)
            median, times, _ = results[label]
            runs = ", ".join(f"{t:.2f}" for t in times)
            print(f"{label:<44}{median:>7.2f} s   ({runs})  {rows / median / 1e6:5.2f} M rows/s")
        if not ydata:
            print(f"{'ydata-profiling minimal':<44}   not installed")

    ours = results[contenders[0][0]][0]
    duck = results[contenders[1][0]][0]
    pola = results[contenders[2][0]][0]
    best = min(duck, pola)
    ratio = ours / best
    print(
        f"analystack / min(polars, DuckDB) = {ours:.2f} / {best:.2f} = {ratio:.2f}x  target <= {TARGET}x  "
        f"{'ok' if ratio <= TARGET else 'OVER'}"
    )
    print(
        "note: analystack also parses the dates and '$' prices, and computes exact distinct counts, "
        "top values,\n      percentiles, outliers (IQR and z-score), duplicate rows, type problems, "
        "issues and a quality score;\n      DuckDB's distinct counts are approximate (HyperLogLog):"
    )
    print(f"  {'column':<12}{'analystack':>12}{'polars':>12}{'DuckDB approx':>14}{'gap':>9}")
    for line in distinct_counts(
        results[contenders[0][0]][2], results[contenders[1][0]][2], results[contenders[2][0]][2]
    ):
        print(line)
    print(
        "  (polars' n_unique counts null as a value and '$12.5' apart from '12.5'; analystack counts "
        "distinct non-null values after its type repair)"
    )


if __name__ == "__main__":
    main()
