"""Ingestion speed: 1M rows x 10 mixed columns (currency, thousands separators, dates, yes/no).

Prints the load time and rows/s of ``load_table`` against a plain ``pandas.read_csv`` of the same
bytes (which leaves the typed-as-text columns as strings). Run: .venv/bin/python bench/bench_ingestion.py
"""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd

from functions.ingestion.loaders import load_table


def build(rows: int) -> bytes:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "price": "$" + pd.Series(rng.integers(1, 5000, rows)).astype(str) + ".50",
            "amount": pd.Series(rng.integers(1000, 9999, rows)).map("{:,}".format),
            "when": pd.date_range("2020-01-01", periods=rows, freq="min").strftime("%Y-%m-%d %H:%M:%S"),
            "flag": rng.choice(["yes", "no"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "name": "user" + pd.Series(np.arange(rows)).astype(str),
            "x": rng.random(rows),
            "y": rng.integers(0, 100, rows),
            "us_date": rng.choice(["01/02/2024", "12/31/2023"], rows),
        }
    )
    return frame.to_csv(index=False).encode()


def main(rows: int = 1_000_000, repeats: int = 3) -> None:
    content = build(rows)
    print(f"input: {rows:,} rows x 10 columns, {len(content) / 1e6:.1f} MB CSV")
    for label, run in (
        ("pandas.read_csv (no type repair)", lambda: pd.read_csv(io.BytesIO(content))),
        ("analystack load_table", lambda: load_table(content, "bench.csv").frame),
    ):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        best = min(times)
        print(
            f"{label:<36} best {best:6.2f} s  median {sorted(times)[len(times) // 2]:6.2f} s  "
            f"{rows / best / 1e6:5.2f} M rows/s"
        )


if __name__ == "__main__":
    main()
