"""The report a dealer principal reads (issue 10, part 4): its title and question describe
the run that was made, its figures are readable when printed, its tables scroll."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest
from conftest import spec_for

from sim import report
from sim.experiment import run_experiment

SMALL = ["market.customers=300", "horizon_weeks=30", "replications=3", "workers=1"]




# --- title and question ------------------------------------------------------------------------
def test_the_experiment_file_keeps_its_name_and_question(hydra_ctx):
    spec = spec_for(SMALL)
    assert spec.name == "sales_vs_reciprocal" and "weekly sales blast" in spec.question


def test_one_strategy_picked_is_asked_about_itself_not_the_experiment_files_question(hydra_ctx):
    spec = spec_for(["strategy=lifecycle", *SMALL])
    file_question = spec_for(SMALL).question
    assert spec.name == "strategy-lifecycle" and spec.question != file_question
    assert spec.question == "What does lifecycle contact earn against no contact, and when does it pay back?"


def test_arms_given_on_the_command_line_name_the_run_and_its_question(hydra_ctx):
    arms = "experiment.arms=[{name: blast, strategy: constant_sales}, {name: stages, strategy: lifecycle}]"
    spec = spec_for([arms, "experiment.baseline=blast", *SMALL])
    assert spec.name == "blast_vs_stages"
    assert spec.question == "Does lifecycle contact earn more than a weekly sales blast?"
    asked = spec_for([arms, "experiment.baseline=blast", "experiment.question=Mine?", *SMALL])
    assert asked.question == "Mine?"  # a question given with them is kept


def test_a_switch_run_with_other_arms_says_where_it_starts(hydra_ctx):
    spec = spec_for(["experiment=switch_to_value", "strategy=lifecycle", *SMALL])
    assert spec.question.startswith("Starting from a weekly sales blast for 104 weeks: what does lifecycle contact")


# --- readable figures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def figures(hydra_ctx):
    spec = spec_for(["experiment=switch_to_value", "experiment.current.weeks=20",
                     "experiment.arms=[{name: stay, strategy: constant_sales}, {name: switch, "
                     "strategy: reciprocal_value}, {name: stages, strategy: lifecycle}]", *SMALL])
    res = run_experiment(spec, progress=False)
    with plt.rc_context(report.STYLE):
        return res, report._figures(res)


def test_every_figure_is_readable_when_printed(figures):
    _, figs = figures
    assert figs[0]["title"].startswith("The switch")
    for f in figs:
        png = f["png"]
        assert png["width"] <= report.COLUMN_PX, f["title"]  # never shrunk below its size on a 1400 px page
        assert png["text_px"] >= report.MIN_TEXT_PX, f["title"]
        assert png["legends_in_axes"] == 0, f["title"]  # legends sit outside the axes: they cover no data
        assert png["lines_outside"] == 0, f["title"]


def test_the_report_leads_with_the_sentences_and_its_tables_scroll(figures):
    res, _ = figures
    html = report.render(res, {"rapport_version": "x", "commit": "c", "dirty": False, "started": "s",
                               "seconds": 1, "config_yaml": ""})
    verdict = html[html.index("<h2>Verdict</h2>"):]
    first = re.search(r"<li>(.*?)</li>", verdict).group(1)
    assert first.startswith("Switching from a weekly sales blast to value first ")
    assert "Lifecycle contact" not in first and "Switching from a weekly sales blast to lifecycle contact" in verdict
    assert verdict.count("Ranges in brackets are 95% confidence intervals") == 1  # explained once
    assert html.count("<table") == html.count('<div class="scroll"><table')
    assert "<title>Rapport: stay_vs_switch_vs_stages</title>" in html
