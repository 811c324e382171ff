"""Regenerate the bundled demo dataset (layers/core/analystack/samples/sales.csv).

A realistic retail sales table with the dirt real exports have: missing values, a few absurd
quantities, duplicated rows, stray whitespace and a price typed as text. Deterministic (seeded)
so reports and tests stay stable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "layers" / "core" / "analystack" / "samples" / "sales.csv"

PRODUCTS = {
    "Electronics": [
        ("Wireless Earbuds", 89.0),
        ("Smartwatch", 199.0),
        ("Bluetooth Speaker", 59.0),
        ("Tablet", 329.0),
    ],
    "Home": [("Air Purifier", 149.0), ("Coffee Maker", 79.0), ("Desk Lamp", 35.0), ("Blender", 65.0)],
    "Fashion": [("Running Shoes", 110.0), ("Backpack", 55.0), ("Rain Jacket", 95.0), ("Sunglasses", 45.0)],
    "Grocery": [("Green Tea Set", 18.0), ("Olive Oil", 14.0), ("Kimchi Pack", 9.5), ("Coffee Beans", 22.0)],
}
REGIONS = {"Seoul": 1.25, "Busan": 1.05, "Incheon": 0.95, "Daegu": 0.9, "Gwangju": 0.85}
CHANNELS = ["online", "store", "mobile"]
SEGMENTS = ["consumer", "corporate", "small business"]


def build(rows: int = 2400, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, rows), unit="D")
    categories = rng.choice(list(PRODUCTS), rows, p=[0.35, 0.25, 0.25, 0.15])
    product_idx = rng.integers(0, 4, rows)
    products = [PRODUCTS[c][i][0] for c, i in zip(categories, product_idx, strict=True)]
    base_price = np.array([PRODUCTS[c][i][1] for c, i in zip(categories, product_idx, strict=True)])
    regions = rng.choice(list(REGIONS), rows, p=[0.34, 0.2, 0.18, 0.15, 0.13])
    region_factor = np.array([REGIONS[r] for r in regions])
    month = dates.month.to_numpy()
    season = 1 + 0.25 * np.isin(month, [11, 12]) + 0.1 * np.isin(month, [6, 7])
    unit_price = np.round(base_price * rng.uniform(0.9, 1.1, rows), 2)
    quantity = np.maximum(1, rng.poisson(3 * region_factor * season)).astype(int)
    discount = rng.choice([0.0, 0.05, 0.1, 0.2], rows, p=[0.55, 0.2, 0.15, 0.1])
    revenue = np.round(unit_price * quantity * (1 - discount), 2)
    frame = pd.DataFrame(
        {
            "order_id": [f"ORD-{100000 + i}" for i in range(rows)],
            "order_date": dates.strftime("%Y-%m-%d"),
            "region": regions,
            "channel": rng.choice(CHANNELS, rows, p=[0.5, 0.3, 0.2]),
            "customer_segment": rng.choice(SEGMENTS, rows, p=[0.6, 0.25, 0.15]),
            "category": categories,
            "product": products,
            "unit_price": unit_price,
            "quantity": quantity,
            "discount": discount,
            "revenue": revenue,
        }
    )
    # The dirt analysts meet in real exports.
    frame = frame.astype({"unit_price": object, "quantity": "Int64", "revenue": "Float64"})
    frame.loc[rng.choice(rows, 40, replace=False), "unit_price"] = np.nan
    frame.loc[rng.choice(rows, 25, replace=False), "customer_segment"] = np.nan
    frame.loc[rng.choice(rows, 12, replace=False), "channel"] = None
    outliers = rng.choice(rows, 6, replace=False)
    frame.loc[outliers, "quantity"] = [250, 400, 310, 500, 275, 380]
    frame.loc[outliers, "revenue"] = (
        pd.to_numeric(frame.loc[outliers, "unit_price"], errors="coerce").fillna(50)
        * frame.loc[outliers, "quantity"]
    ).round(2)
    padded = rng.choice(rows, 30, replace=False)
    frame.loc[padded, "category"] = frame.loc[padded, "category"].map(lambda c: f" {c} ")
    typed = rng.choice(rows, 8, replace=False)
    frame.loc[typed, "unit_price"] = frame.loc[typed, "unit_price"].map(
        lambda p: f"${p}" if pd.notna(p) else p
    )
    duplicates = frame.iloc[rng.choice(rows, 15, replace=False)]
    frame = pd.concat([frame, duplicates], ignore_index=True)
    return frame.sort_values("order_date", kind="stable").reset_index(drop=True)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    build().to_csv(OUT, index=False)
    print(f"wrote {OUT}")
