"""The market from the dealer's side (sim/dealership.py): the number of our customers gives the
area's size, a customer file becomes our customers, the example file runs end to end, and every
bad file stops with one line naming the file (exit 2, nothing written)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import RelationshipModel
from sim import dealership
from sim.cli import main
from sim.dealership import CUSTOMER_DIR, customers_for, load_customers, our_customer_share, start_shares
from sim.example_dealership import example
from sim.params import PARAMS, ParameterError, validate
from sim.start import starting_market
from sim.state import RIVAL, US

from conftest import assert_one_line_error

EXAMPLE = CUSTOMER_DIR / "example_dealership.csv"
TINY = ["horizon_weeks=6", "replications=1", "workers=1", "report=false"]


@pytest.mark.parametrize("our_share,prospects_known,burn_in_weeks",
                         [(0.4, 0.15, 0), (0.1, 0.3, 0), (0.7, 0.0, 0), (0.4, 0.15, 1040), (0.2, 0.3, 520)])
def test_customers_for_gives_a_market_whose_expected_number_of_our_customers_is_the_one_asked(
        our_share, prospects_known, burn_in_weeks):
    """From the drawn market (no burn-in) or from its steady state (the default start)."""
    p = validate({"our_share": our_share, "prospects_known": prospects_known, "burn_in_weeks": burn_in_weeks})
    n = customers_for(3000, p)
    if burn_in_weeks == 0:
        assert n == round(3000 / (our_share + (1 - our_share) * prospects_known))
    known = [(lambda pop: (pop.known | (pop.owner == US)).sum())(starting_market({**p, "customers": n},
                                                                                 np.random.default_rng(s)))
             for s in range(8)]
    share = our_customer_share(p)
    sd = np.sqrt(n * share * (1 - share) / len(known))  # of the mean of 8 draws
    assert abs(np.mean(known) - 3000) < 4 * sd + 1


def _run(args, tmp_path, capsys):
    out = tmp_path / "results"
    code = main([*args, f"results_dir={out}"])
    return code, out, capsys.readouterr().err.strip().splitlines()


def test_our_customers_sets_the_market_area_of_the_run(tmp_path, capsys):
    code, out, _ = _run(["market.our_customers=300", "market=small_town", "strategy=reciprocal_value", *TINY],
                        tmp_path, capsys)
    assert code == 0
    [run] = list((out / "strategy-reciprocal_value").iterdir())
    config = yaml.safe_load((run / "config.yaml").read_text())
    expected = customers_for(300, validate({k: v for k, v in config["market"].items() if k in PARAMS and k != "customers"}))
    assert json.loads((run / "meta.json").read_text())["experiment"]["market"]["customers"] == expected
    assert len(pd.read_parquet(run / "customers.parquet")) == expected


@pytest.mark.parametrize("args,fragment", [
    (["market.customers=2000", "market.our_customers=800"], "market.customers and market.our_customers"),
    (["market.customers=2000", "market.customer_file=example_dealership"], "market.customers and market.customer_file"),
    (["market.our_customers=800", "market.customer_file=example_dealership"], "give one"),
    (["market.our_customers=2"], "market.our_customers"),
    (["market.customer_file=no_such_file.csv"], "market.customer_file='no_such_file.csv': file not found"),
])
def test_conflicting_or_impossible_settings_stop_with_one_line(tmp_path, capsys, args, fragment):
    code, out, err = _run(args, tmp_path, capsys)
    assert code == 2 and len(err) == 1 and fragment in err[0], err
    assert not out.exists()


def test_the_shipped_example_file_is_what_its_script_writes(tmp_path):
    from sim.example_dealership import main as write

    assert write([str(tmp_path / "x.csv")]) == 0
    assert (tmp_path / "x.csv").read_bytes() == EXAMPLE.read_bytes(), \
        "the shipped file differs from its script's output: python -m sim.example_dealership, on purpose"


def test_the_file_s_customers_become_exactly_our_customers():
    table = load_customers("example_dealership")
    frame = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    n = customers_for(len(table))
    m = RelationshipModel(customers=n, customer_file=EXAMPLE, rng=3, journeys=0)
    pop = m.pop
    pop.check()
    ids = m.file_ids
    assert pop.known.sum() == len(table) and pop.known[ids].all()  # the file's rows and no one else
    purchases = frame["purchases"].astype(int).to_numpy()
    np.testing.assert_array_equal(pop.owner[ids], np.where(purchases >= 1, US, RIVAL))
    assert (pop.owner == US).sum() == (purchases >= 1).sum()  # no owner of ours outside the file
    opt = frame["email_opt_in"].to_numpy()
    np.testing.assert_array_equal(pop.opted_in[ids][opt == "yes"], True)
    np.testing.assert_array_equal(pop.opted_in[ids][opt == "no"], False)
    dated = frame["purchase_date"] != ""
    days = (pd.Timestamp(table.as_of) - pd.to_datetime(frame["purchase_date"][dated])).dt.days.to_numpy()
    np.testing.assert_array_equal(pop.vehicle_age[ids][dated.to_numpy()], np.rint(days / 7))
    spend = frame["spend"].astype(float).to_numpy()
    by_spend = pop.spend[ids][np.argsort(spend, kind="stable")]
    assert (np.diff(by_spend) >= 0).all() and by_spend[-1] > by_spend[0]  # the file says who spends most


def test_lockstep_and_replayed_holdouts_agree_with_a_customer_file():
    """The experiment replays a holdout recorded with the same file: it must be the lockstep twin."""
    from sim.model import record_holdout

    n = customers_for(len(load_customers(EXAMPLE)))
    lockstep = RelationshipModel(n, "constant_sales", rng=5, journeys=0, customer_file=EXAMPLE).run(5)
    recorded = record_holdout(n, 5, rng=5, customer_file=str(EXAMPLE))
    replayed = RelationshipModel(n, "constant_sales", rng=5, journeys=0, customer_file=EXAMPLE,
                                 holdout=recorded).run(5)
    pd.testing.assert_frame_equal(lockstep.metrics(), replayed.metrics())


def test_the_example_dealership_runs_end_to_end_from_the_command_line(tmp_path, capsys):
    code, out, _ = _run(["market.customer_file=example_dealership", *TINY], tmp_path, capsys)
    assert code == 0
    [run] = list((out / "sales_vs_reciprocal").iterdir())
    meta = json.loads((run / "meta.json").read_text())
    assert meta["experiment"]["market"]["customers"] == customers_for(2400)
    assert yaml.safe_load((run / "config.yaml").read_text())["market"]["customer_file"] == "example_dealership"
    customers = pd.read_parquet(run / "customers.parquet")
    assert customers.groupby("arm").size().eq(customers_for(2400)).all()


def test_a_parquet_file_reads_as_its_csv(tmp_path):
    frame = example(200)
    frame.to_csv(tmp_path / "c.csv", index=False)
    typed = frame.assign(purchase_date=pd.to_datetime(frame["purchase_date"].replace("", None)),
                         purchases=frame["purchases"].astype(int), spend=frame["spend"].astype(float))
    typed.to_parquet(tmp_path / "c.parquet")
    a, b = load_customers(tmp_path / "c.csv"), load_customers(tmp_path / "c.parquet")
    assert a.as_of == b.as_of
    for field in ("age_weeks", "weeks_since_service", "opted_in", "purchases", "service_visits", "spend"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_a_spreadsheet_s_byte_order_mark_and_spaced_headers_are_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffCustomer ID,Purchases, Email Opt-In\nx,1,Yes\ny,0,no\n".encode())
    table = load_customers(path)
    assert table.purchases.tolist() == [1, 0] and table.opted_in.tolist() == [1, 0]


def test_missing_columns_take_their_defaults(tmp_path):
    (tmp_path / "ids.csv").write_text("customer_id\n" + "\n".join(f"x{i}" for i in range(500)) + "\n")
    table = load_customers(tmp_path / "ids.csv")
    assert len(table) == 500 and np.isnan(table.purchases).all() and np.isnan(table.age_weeks).all()
    p = validate({})
    m = RelationshipModel(customers_for(500, p), customer_file=table, rng=1, journeys=0)
    owners = (m.pop.owner == US).sum()
    expected = 500 * start_shares(p)[1] / our_customer_share(p)
    assert m.pop.known.sum() == 500 and abs(owners - expected) < 4 * np.sqrt(expected)


BAD_ROWS = """customer_id,purchase_date,vehicle_age_years,email_opt_in,purchases
a1,2020-01-01,,yes,1
a2,,-3,no,1
a3,2999-01-01,,yes,1
a4,2021-02-30,,maybe,2
a5,,4,,1.5
"""


def test_bad_rows_are_counted_and_the_first_named_with_row_and_column(tmp_path, capsys):
    path = tmp_path / "mine.csv"
    path.write_text(BAD_ROWS)
    with pytest.raises(ParameterError) as excinfo:
        load_customers(path)
    msg = assert_one_line_error(excinfo, str(path), "4 bad rows", "row 2 (customer a2), vehicle_age_years='-3'",
                                "row 3 (customer a3), purchase_date='2999-01-01': a date in the future",
                                "row 4 (customer a4)")
    assert "row 5" not in msg  # three examples at most
    code, out, err = _run([f"market.customer_file={path}", *TINY], tmp_path, capsys)
    assert code == 2 and len(err) == 1 and "4 bad rows" in err[0] and not out.exists()


def _hostile(tmp_path, kind):
    path = tmp_path / {"xlsx": "c.xlsx", "latin1": "c.csv", "garbage_parquet": "c.parquet", "empty": "c.csv",
                       "header_only": "c.csv", "slip": "c.csv", "huge": "c.csv", "folder": "dir.csv",
                       "semicolons": "c.csv", "twice": "c.csv"}[kind]
    if kind == "xlsx":
        path.write_bytes(b"PK\x03\x04 not really a workbook")
    elif kind == "latin1":
        path.write_bytes("customer_id,purchases\nM\u00fcller,1\n".encode("latin-1"))
    elif kind == "garbage_parquet":
        path.write_bytes(b"\x00\x01 this is not parquet " * 20)
    elif kind == "empty":
        path.write_text("")
    elif kind == "header_only":
        path.write_text("customer_id,purchases\n")
    elif kind == "slip":
        path.write_text("customer_id,purchse_date\nx,2020-01-01\n")
    elif kind == "semicolons":  # a spreadsheet's export in some locales
        path.write_text("customer_id;purchases\nx;1\n")
    elif kind == "twice":
        path.write_text("customer_id,purchases\nx,1\ny,1\nx,0\n")
    elif kind == "huge":
        path.write_text("customer_id\n" + "x\n" * 2000)
    else:
        path.mkdir()
    return path


@pytest.mark.parametrize("kind,fragment", [
    ("xlsx", "must be .csv or .parquet"), ("latin1", "not UTF-8"), ("garbage_parquet", "cannot be read as PARQUET"),
    ("empty", "empty file"), ("header_only", "no customers"), ("slip", "did you mean purchase_date"),
    ("huge", "more than the 1,000 a customer file may have"), ("folder", "file not found"),
    ("semicolons", "no known column"), ("twice", "row 3 (customer x), customer_id='x': used by an earlier row"),
])
def test_hostile_files_stop_with_one_line_naming_the_file(tmp_path, monkeypatch, capsys, kind, fragment):
    monkeypatch.setattr(dealership, "MAX_FILE_BYTES", 1000)
    path = _hostile(tmp_path, kind)
    with pytest.raises(ParameterError) as excinfo:
        load_customers(path)
    assert_one_line_error(excinfo, path.name, fragment)
    code, out, err = _run([f"market.customer_file={path}", *TINY], tmp_path, capsys)
    assert code == 2 and len(err) == 1 and fragment in err[0] and not out.exists(), err


def test_a_file_too_big_for_its_market_is_refused():
    table = load_customers(EXAMPLE)
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(customers=2000, customer_file=table, rng=0)
    assert_one_line_error(excinfo, "2,400 customers do not fit", f"customers_for(2400) = {customers_for(2400)}")
