"""Write the example customer file of a synthetic dealership (``configs/customers/example_dealership.csv``).

``python -m sim.example_dealership [PATH]`` draws, from a fixed seed, 2,400 customers of an
invented dealership as its CRM would export them on 2026-06-30: owners with the purchase
date (or only the model year) of their car, their last service with us, their email
opt-in, purchases, service visits and spend to date, and known prospects who have bought
nothing yet. Some cells are empty, as in a real export; they take the defaults of
``sim.dealership.COLUMNS``. The file is made, not measured: it shows the format.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from .dealership import CUSTOMER_DIR

AS_OF = date(2026, 6, 30)
CUSTOMERS = 2400
OWNER_SHARE = 0.8  # owners of a car we sold, the rest known prospects
SEED = 2026


def example(n: int = CUSTOMERS, seed: int = SEED) -> pd.DataFrame:
    """The example dealership's customers, one row each, as text cells ("" = not recorded)."""
    rng = np.random.default_rng(seed)
    owner = rng.random(n) < OWNER_SHARE
    age_days = rng.integers(30, 9 * 365, n)
    bought = [AS_OF - timedelta(days=int(d)) for d in age_days]
    service_days = np.minimum(rng.exponential(150, n).astype(int) + 1, 5 * 365)  # some long ago: serviced elsewhere since
    serviced = owner & (rng.random(n) < 0.7)
    purchases = np.where(owner, 1 + rng.poisson(0.4, n), 0)
    visits = np.where(serviced, 1 + rng.poisson(np.maximum(age_days, 180) / 365 * 1.2), 0)
    spend = np.where(owner, np.round(purchases * 2200 * (rng.pareto(1.5, n) + 1) + visits * 180, 2), 0.0)
    only_model_year = owner & (rng.random(n) < 0.15)  # older records: the model year, no purchase date
    opt_in = rng.choice(np.array(["yes", "no", ""]), n, p=[0.72, 0.2, 0.08])
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(1, n + 1)],
        "purchase_date": [str(b) if o and not m else "" for b, o, m in zip(bought, owner, only_model_year)],
        "model_year": [str(b.year + (b.month >= 7)) if o else "" for b, o in zip(bought, owner)],
        "last_service_date": [str(AS_OF - timedelta(days=int(d))) if s else "" for d, s in zip(service_days, serviced)],
        "email_opt_in": opt_in,
        "purchases": purchases.astype(str),
        "service_visits": visits.astype(str),
        "spend": [f"{s:.2f}" for s in spend],
    })


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else CUSTOMER_DIR / "example_dealership.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    example().to_csv(path, index=False)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
