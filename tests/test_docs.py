"""Docs stay true to the code."""

from pathlib import Path

from sim.params import markdown_table

ROOT = Path(__file__).resolve().parents[1]


def test_parameter_table_in_model_docs_is_current():
    text = (ROOT / "docs/model.md").read_text()
    table = text.split("<!-- params:start -->\n", 1)[1].split("\n<!-- params:end -->", 1)[0]
    assert table == markdown_table(), "docs/model.md parameter table is stale: run `make docs`"
