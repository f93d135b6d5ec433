"""The market seen from the dealer's side: our customers as a number or as a customer file.

``market.customers`` is the whole market area: the car owners of the dealer and of its rival.
A dealer knows its own customers instead, so two market settings describe the area from there:

- ``market.our_customers`` (0 = unused): the number of our customers at the start (our owners
  plus the rival's owners we know as prospects); the area's size is derived from it
  (``customers_for``).
- ``market.customer_file``: a CSV or Parquet file of our customers (``COLUMNS``). The model
  builds its market as usual, then the file's customers take the places of our owners and
  known prospects (``place_customers``); the rest of the area are the rival's owners whom we
  do not know. The area's size follows from the file's count as for ``our_customers``.

``market.customers`` and ``market.our_customers`` (or the file) are alternatives: giving both
on the command line is an error (``check_overrides``).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .params import PARAMS, ParameterError, defaults
from .resources import CONFIG_DIR
from .state import RIVAL, US, Population, Stage

MARKET_SETTINGS: dict[str, Any] = {"our_customers": 0, "customer_file": ""}  # name -> default, in market.*
CUSTOMER_DIR = CONFIG_DIR / "customers"  # built-in customer files: market.customer_file=NAME
MAX_FILE_BYTES = 256 << 20  # a customer file above 256 MiB (some 3 million customers) is refused unread
WEEKS_PER_YEAR = 52
EXAMPLES = 3  # bad rows quoted in the error line

# Columns of a customer file: name -> what it holds. Every column is optional and so is every
# cell: an empty cell or a missing column takes the default given here. Other columns are ignored.
COLUMNS: dict[str, str] = {
    "customer_id": "your id of the customer (text), quoted in error messages; default: the row number",
    "purchase_date": "date the current car was bought (YYYY-MM-DD)",
    "vehicle_age_years": "age of the current car in years (a number >= 0), if no purchase_date",
    "model_year": "model year of the current car (a whole number), if neither of the above; "
                  "default of the three: the car's age drawn as for any customer of the market",
    "last_service_date": "date of the last service visit with us (YYYY-MM-DD); within one service interval "
                         "(service_interval_weeks) it was the car's latest service and sets the next one's date; "
                         "default: drawn",
    "email_opt_in": "accepts marketing contact (true/false, yes/no, 1/0); default: drawn with the market's opt_in",
    "purchases": "cars bought from us to date (a whole number >= 0); 1 or more: an owner of a car we sold, "
                 "0: a known prospect; default: drawn, an owner with our owners' share among our customers",
    "service_visits": "service visits with us to date (a whole number >= 0); 1 or more: serviced with us; "
                      "default: serviced with us if an owner",
    "spend": "what the customer spent with us (a number >= 0, any currency); ranks the customers' spend "
             "multipliers (the richest get the market's highest); default: drawn",
}
TRUE, FALSE = ("true", "yes", "y", "1", "t"), ("false", "no", "n", "0", "f")


# --- the area's size ------------------------------------------------------------------------
def our_customer_share(p: dict) -> float:
    """Expected share of the area that is our customers at the start: our owners and the
    known prospects among the rival's owners, in the market a run starts from: the burned-in
    steady state (``sim.start``), or the drawn market if ``burn_in_weeks`` is 0.

    The one place that knows it: ``customers_for`` follows it.
    """
    return start_shares(p)[0]


def start_shares(p: dict) -> tuple[float, float]:
    """(our customers, our owners) as expected shares of the area at the start."""
    if p["burn_in_weeks"] == 0:
        return p["our_share"] + (1.0 - p["our_share"]) * p["prospects_known"], p["our_share"]
    from .start import burned_in, dynamic  # noqa: PLC0415 (the steady state runs the model's rules)

    sample = burned_in(dynamic(p))
    owners = sample.owner == US
    return float(np.mean(sample.known | owners)), float(np.mean(owners))


def customers_for(our_customers: int, p: dict | None = None, where: str = "market.our_customers") -> int:
    """The area's size (``customers``) whose expected number of our customers at the start is
    ``our_customers``, under the market parameters ``p`` (defaults if None).

    Raises:
        ParameterError: if no size in the allowed range gives that many, naming ``where``.
    """
    p = {**defaults(), **(p or {})}
    share = our_customer_share(p)
    allowed = PARAMS["customers"]
    if share <= 0:
        raise ParameterError(f"{where}: our_share and prospects_known are 0, so the market holds none of our "
                             f"customers; raise one of them")
    n = int(round(our_customers / share))
    if not allowed.lo <= n <= allowed.hi:
        raise ParameterError(f"{where}: {our_customers:,} of our customers give a market area of {n:,} customers "
                             f"(ours are {share:.0%} of it), allowed {allowed.allowed}")
    return max(n, our_customers)


def check_overrides(overrides: list[str]) -> None:
    """Command-line overrides: ``market.customers`` (the whole area) and our customers (a
    number or a file) are alternatives; giving both stops with one line."""
    keys = {o.partition("=")[0].lstrip("+~") for o in overrides}
    mine = sorted(k for k in keys if k.removeprefix("market.") in MARKET_SETTINGS and k.startswith("market."))
    if "market.customers" in keys and mine:
        raise ParameterError(f"market.customers and {mine[0]}: give one. market.customers is the whole market "
                             f"area (ours and the rival's); {mine[0]} derives it from our customers")


def split_settings(values: dict) -> tuple[dict, dict]:
    """A flat dict of market values as (model parameters, the dealer's settings of MARKET_SETTINGS)."""
    params = {k: v for k, v in values.items() if k not in MARKET_SETTINGS}
    return params, {k: values[k] for k in MARKET_SETTINGS if k in values}


def resolve_settings(settings: dict, shared: dict, base: dict) -> dict:
    """``shared`` (the market's parameter values) with ``customers`` derived from our customers
    and the customer file's path added as ``customer_file``; ``base``: ``shared`` validated."""
    our = settings.get("our_customers") or 0
    file = settings.get("customer_file") or ""
    if isinstance(our, bool) or not isinstance(our, int) or our < 0:
        raise ParameterError(f"market.our_customers={our!r}: expected a whole number >= 0 (0: unused)")
    if not isinstance(file, str):
        raise ParameterError(f"market.customer_file={file!r}: expected a file name or path")
    if our and file:
        raise ParameterError("market.our_customers and market.customer_file: give one; the file's rows are our "
                             "customers")
    if file:
        table = load_customers(file, "market.customer_file")
        return {**shared, "customers": customers_for(len(table), base, f"market.customer_file={file}"),
                "customer_file": str(table.path)}
    if our:
        return {**shared, "customers": customers_for(our, base)}
    return shared


# --- reading a customer file ----------------------------------------------------------------
@dataclass(frozen=True)
class CustomerTable:
    """A checked customer file, one entry per customer; NaN where the default applies."""

    path: Path
    as_of: date  # the file's latest date: the simulation starts then
    age_weeks: np.ndarray  # age of the current car
    weeks_since_service: np.ndarray  # since the last service with us
    opted_in: np.ndarray  # 1.0 / 0.0
    purchases: np.ndarray
    service_visits: np.ndarray
    spend: np.ndarray
    has_service_columns: bool  # last_service_date or service_visits given

    def __len__(self) -> int:
        return len(self.age_weeks)


def resolve_file(spec: str | Path) -> Path:
    """A built-in customer file's name (``example_dealership``) or a path to a file."""
    path = Path(spec)
    if path.suffix == "" and not path.exists():
        for suffix in (".csv", ".parquet"):
            if (CUSTOMER_DIR / f"{spec}{suffix}").is_file():
                return CUSTOMER_DIR / f"{spec}{suffix}"
    return path


def load_customers(spec: str | Path, where: str = "customer_file") -> CustomerTable:
    """Read and check a customer file (``COLUMNS``); ParameterError, one line naming the file,
    the bad rows (their count and the first ones, numbered from 1 after the header) and the column."""
    path = resolve_file(spec)
    if not path.is_file():
        builtin = ", ".join(sorted(p.stem for p in CUSTOMER_DIR.glob("*.*"))) or "none"
        raise ParameterError(f"{where}={str(spec)!r}: file not found (built-in: {builtin})")
    stat = path.stat()
    return _load(path.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load(path: Path, _mtime: int, size: int) -> CustomerTable:
    """``load_customers`` of a file as it is now (the cache key holds its time and size)."""
    if size > MAX_FILE_BYTES:
        raise ParameterError(f"{path}: {size:,} bytes, more than the {MAX_FILE_BYTES:,} a customer file may have")
    raw = _columns(_read(path), path)
    if raw.empty:
        raise ParameterError(f"{path}: no customers (the file has no rows)")
    return _table(raw, path)


def _read(path: Path) -> pd.DataFrame:
    """The file as text cells (empty where missing), or one line saying why it cannot be read."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                               skipinitialspace=True)
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
            for c in frame.columns:
                if pd.api.types.is_datetime64_any_dtype(frame[c]):
                    frame[c] = frame[c].dt.strftime("%Y-%m-%d")
            return frame.astype(object).where(frame.notna(), "").astype(str)
    except UnicodeDecodeError as err:
        raise ParameterError(f"{path}: not UTF-8 text (byte {err.start}); save the file as UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise ParameterError(f"{path}: empty file, expected a header line and one row per customer") from None
    except Exception as err:  # a malformed CSV, a file that is not Parquet
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ParameterError(f"{path}: cannot be read as {suffix[1:].upper()} ({first})") from None
    raise ParameterError(f"{path}: a customer file must be .csv or .parquet, not {suffix or 'without suffix'!r}")


def _columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The known columns, names normalised (``Purchase Date`` -> ``purchase_date``); a name
    close to a known one but not equal is taken for a slip and stops the run."""
    names = {c: str(c).strip().lower().replace(" ", "_").replace("-", "_") for c in frame.columns}
    for original, name in names.items():
        if name not in COLUMNS:
            near = difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.8)
            if near:
                raise ParameterError(f"{path}: column {original!r} is unknown; did you mean {near[0]}? "
                                     f"Allowed are {', '.join(COLUMNS)}")
    if len(set(names.values())) < len(names):
        raise ParameterError(f"{path}: a column is given twice ({', '.join(map(str, frame.columns))})")
    if not set(names.values()) & set(COLUMNS):
        shown = ", ".join(map(str, frame.columns))[:80]
        raise ParameterError(f"{path}: no known column (found {shown}); expected a header line with some of "
                             f"{', '.join(COLUMNS)}, separated by commas")
    frame = frame.rename(columns=names)
    return frame[[c for c in COLUMNS if c in frame.columns]].apply(lambda s: s.str.strip())


class _Rows:
    """Collects the bad cells of a file: each as (row, column, text, what is allowed)."""

    def __init__(self, path: Path, ids: pd.Series):
        self.path, self.ids, self.bad = path, ids, []

    def check(self, column: str, text: pd.Series, ok: np.ndarray, allowed: str) -> None:
        for i in np.flatnonzero(~ok & (text != "").to_numpy()):
            self.bad.append((int(i), column, text.iloc[i], allowed))

    def stop_if_any(self) -> None:
        if not self.bad:
            return
        rows = sorted({b[0] for b in self.bad})
        first = sorted(self.bad)[:EXAMPLES]
        quoted = "; ".join(f"row {i + 1}{self._id(i)}, {col}={text[:40]!r}: {allowed}"
                           for i, col, text, allowed in first)
        raise ParameterError(f"{self.path}: {len(rows)} bad row{'s' if len(rows) > 1 else ''} (rows counted from 1 "
                             f"after the header), e.g. {quoted}")

    def _id(self, i: int) -> str:
        return f" (customer {self.ids.iloc[i][:40]})" if self.ids is not None and self.ids.iloc[i] else ""


def _table(raw: pd.DataFrame, path: Path) -> CustomerTable:
    """The checked columns as numbers (NaN = default); every bad cell is collected first."""
    empty = pd.Series([""] * len(raw), index=raw.index)
    col = {c: raw[c] if c in raw else empty for c in COLUMNS}
    rows = _Rows(path, raw.get("customer_id"))
    rows.check("customer_id", col["customer_id"], ~col["customer_id"].duplicated(keep="first").to_numpy(),
               "used by an earlier row too")
    today = date.today()
    dates = {c: _dates(col[c], c, rows, today) for c in ("purchase_date", "last_service_date")}
    known = pd.concat(list(dates.values())).dropna()
    as_of = known.max().date() if len(known) else today
    bought = (pd.Timestamp(as_of) - dates["purchase_date"]).dt.days.to_numpy(float) / 7
    years = _numbers(col["vehicle_age_years"], "vehicle_age_years", rows, 0, 100, False)
    model_year = _numbers(col["model_year"], "model_year", rows, 1900, as_of.year + 1, True)
    by_model = np.maximum(as_of.year - model_year, 0) * WEEKS_PER_YEAR
    age = np.where(np.isnan(bought), np.where(np.isnan(years), by_model, years * WEEKS_PER_YEAR), bought)
    since = (pd.Timestamp(as_of) - dates["last_service_date"]).dt.days.to_numpy(float) / 7
    opted = _switches(col["email_opt_in"], rows)
    purchases = _numbers(col["purchases"], "purchases", rows, 0, 1000, True)
    visits = _numbers(col["service_visits"], "service_visits", rows, 0, 10_000, True)
    spend = _numbers(col["spend"], "spend", rows, 0, math.inf, False)
    rows.stop_if_any()
    return CustomerTable(path, as_of, np.rint(age), since, opted, purchases, visits, spend,
                         "last_service_date" in raw or "service_visits" in raw)


def _dates(text: pd.Series, column: str, rows: _Rows, today: date) -> pd.Series:
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    rows.check(column, text, parsed.notna().to_numpy(), "expected a date YYYY-MM-DD")
    future = (parsed > pd.Timestamp(today)).to_numpy()
    rows.check(column, text, ~future, f"a date in the future (today is {today})")
    return parsed.where(~future)


def _numbers(text: pd.Series, column: str, rows: _Rows, lo: float, hi: float, whole: bool) -> np.ndarray:
    values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(float)
    ok = np.isfinite(values) & (values >= lo) & (values <= hi) & ((not whole) | (values == np.round(values)))
    kind = "a whole number" if whole else "a number"
    rows.check(column, text, ok, f"expected {kind} in [{lo:g}, {hi:g}]")
    return np.where(ok, values, np.nan)


def _switches(text: pd.Series, rows: _Rows) -> np.ndarray:
    low = text.str.lower()
    yes, no = low.isin(TRUE).to_numpy(), low.isin(FALSE).to_numpy()
    rows.check("email_opt_in", text, yes | no, "expected true or false (yes/no, 1/0)")
    return np.where(yes, 1.0, np.where(no, 0.0, np.nan))


# --- placing the file's customers in the market ---------------------------------------------
def place_customers(pop: Population, table: CustomerTable, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Make the file's customers our customers in a market ``build_market`` drew; returns their ids.

    They take the places of the market's known customers (then of others, if the file holds
    more); the known customers left over become rival owners we do not know. Where the file
    gives no value, the value is drawn as the market draws it (``COLUMNS``).
    """
    n = len(table)
    if n >= pop.n:
        raise ParameterError(f"customer_file: {n:,} customers do not fit in a market of {pop.n:,} (customers); "
                             f"use customers_for({n}) = {customers_for(n, p)}")
    order = np.concatenate([np.flatnonzero(pop.known), np.flatnonzero(~pop.known)])
    ids, others = order[:n], order[n:]
    _become_strangers(pop, others[pop.known[others]], p, rng)
    share, owners = start_shares(p)
    owner_share = owners / share if share > 0 else 0.0
    drawn = rng.random((2, n))
    ours = np.where(np.isnan(table.purchases), drawn[0] < owner_share, table.purchases >= 1)
    pop.owner[ids] = np.where(ours, US, RIVAL)
    pop.known[ids] = True
    pop.ever_ours[ids] = ours
    pop.opted_in[ids] = np.where(np.isnan(table.opted_in), drawn[1] < p["opt_in"], table.opted_in == 1)
    _place_cars(pop, ids, table, ours, p)
    _place_spend(pop, ids, table.spend, p)
    _place_relationship(pop, ids, ours, p, rng)
    return ids


def _become_strangers(pop: Population, idx: np.ndarray, p: dict, rng: np.random.Generator) -> None:
    """Customers the market drew as ours but the file does not hold: the rival's, unknown to us."""
    pop.owner[idx] = RIVAL
    pop.known[idx] = pop.opted_in[idx] = pop.ever_ours[idx] = pop.serviced_with_us[idx] = False
    _place_relationship(pop, idx, np.zeros(idx.size, bool), p, rng)


def _place_cars(pop: Population, ids: np.ndarray, table: CustomerTable, ours: np.ndarray, p: dict) -> None:
    """The car's age and the service: from the file where it says, else as drawn."""
    age = table.age_weeks
    pop.vehicle_age[ids] = np.where(np.isnan(age), pop.vehicle_age[ids], np.minimum(age, 32767))
    interval = p["service_interval_weeks"]
    recent = table.weeks_since_service <= interval  # the last service with us was the car's latest
    due = np.maximum(1, interval - np.rint(np.nan_to_num(table.weeks_since_service)))
    pop.service_due[ids] = np.where(recent, due, pop.service_due[ids])
    if table.has_service_columns:
        pop.serviced_with_us[ids] = recent | (np.isnan(table.weeks_since_service) & (table.service_visits >= 1))
    else:
        pop.serviced_with_us[ids] = ours


def _place_spend(pop: Population, ids: np.ndarray, spend: np.ndarray, p: dict) -> None:
    """The file's spend ranks the spend multipliers drawn for its customers: the market keeps
    its distribution, the file says who is at its top."""
    given = ~np.isnan(spend)
    if given.any():
        slots = ids[given]
        pop.spend[slots[np.argsort(spend[given], kind="stable")]] = np.sort(pop.spend[slots])
    cut = np.quantile(pop.spend, 1.0 - p["heavy_share"])
    pop.tier[:] = pop.spend >= cut


def _place_relationship(pop: Population, ids: np.ndarray, ours: np.ndarray, p: dict,
                        rng: np.random.Generator) -> None:
    """Trust, affinity and stage as ``build_market`` draws them for an owner or for another customer."""
    noise = rng.normal(0.0, 0.1, (2, ids.size))
    pop.trust[ids] = np.clip(np.where(ours, p["trust_owners"], p["trust_others"]) + noise[0], 0, 1)
    pop.affinity[ids] = np.clip(np.where(ours, p["affinity_owners"], p["affinity_others"]) + noise[1], 0, 1)
    equity = (pop.trust[ids] + pop.affinity[ids]) / 2
    pop.stage[ids] = np.where(ours, np.where(equity >= p["loyalty_threshold"], Stage.LOYALTY, Stage.CONNECTION),
                              Stage.PROSPECT)
