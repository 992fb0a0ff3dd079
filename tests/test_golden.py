"""The engine's scores equal the golden values in tests/fixtures/golden.json (see tests/golden.py).

A failure names each architecture whose score moved and says how to regenerate the fixture on purpose.
"""

from __future__ import annotations

import pytest
from golden import CASES, CLI_RUNS, REGENERATE, compute, load, mismatches, summary_mismatches

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: one torch thread, as every scoring worker

GOLDEN = load()


def test_fixture_holds_every_case():
    assert set(GOLDEN["cases"]) == set(CASES) and set(GOLDEN["cli"]) == set(CLI_RUNS), (
        f"tests/golden.py and the fixture disagree on the cases: run `{REGENERATE}`")
    for name, case in GOLDEN["cases"].items():
        assert case["overrides"] == CASES[name], f"{name}: overrides changed since the fixture; run `{REGENERATE}`"


@pytest.mark.parametrize("name", list(CASES))
def test_scores_equal_the_golden_values(name, tmp_path):
    bad = mismatches(GOLDEN["cases"][name]["scores"], compute(name, tmp_path))
    assert not bad, (f"{name}: {len(bad)} scores left their golden values:\n  " + "\n  ".join(bad[:10])
                     + f"\nIf this change is deliberate, regenerate the fixture with `{REGENERATE}` and commit it.")


def test_golden_values_are_not_degenerate():
    """The pinned scores vary across architectures (a constant would pin nothing) and keep the known NaN."""
    for name, case in GOLDEN["cases"].items():
        values = [v for v in case["scores"].values() if v is not None]
        assert len(set(values)) >= min(4, len(values)), name
    # arch 9894 (every edge `none`): a constant output, so jacov and nwot have no finite score
    assert GOLDEN["cases"]["jacov"]["scores"]["9894"] is None and GOLDEN["cases"]["nwot"]["scores"]["9894"] is None


def assert_summary_is_golden(name: str, summary: dict) -> None:
    """A `score` run's summary.json equals the golden summary of CLI_RUNS[name]."""
    bad = summary_mismatches(GOLDEN["cli"][name]["summary"], summary)
    assert not bad, (f"score {' '.join(CLI_RUNS[name])}: {len(bad)} summary values moved:\n  " + "\n  ".join(bad)
                     + f"\nIf this change is deliberate, regenerate the fixture with `{REGENERATE}` and commit it.")


def test_a_five_percent_change_of_the_scores_is_caught(tmp_path, monkeypatch):
    """MeCo's scores scaled by 1.05 fail the golden check for every architecture of the case."""
    from meco_lab.proxies.meco import MeCo

    real = MeCo.score
    monkeypatch.setattr(MeCo, "score", lambda self, *args: 1.05 * real(self, *args))
    bad = mismatches(GOLDEN["cases"]["meco/random"]["scores"], compute("meco/random", tmp_path))
    assert len(bad) == len(GOLDEN["cases"]["meco/random"]["scores"])


def test_a_five_percent_change_of_the_truth_is_caught(tmp_path, monkeypatch):
    """Accuracies scaled by 1.05 move the pinned top-10 accuracy of the CLI summary."""
    import dataclasses
    import io

    from omegaconf import OmegaConf
    from rich.console import Console

    from meco_lab.benchmarks import nats
    from meco_lab.core.config import compose_config
    from meco_lab.scoring.run import score_run

    real = nats.load_table_truth

    def scaled(*args, **kwargs):
        truth = real(*args, **kwargs)
        return dataclasses.replace(truth, values={d: 1.05 * a for d, a in truth.values.items()})

    monkeypatch.setattr(nats, "load_table_truth", scaled)
    config = OmegaConf.create(compose_config(CLI_RUNS["sample120"]))
    summary = score_run(config, tmp_path, Console(file=io.StringIO()))
    bad = summary_mismatches(GOLDEN["cli"]["sample120"]["summary"], summary)
    assert {line.split(":")[0] for line in bad} == {f"top10_mean_accuracy[{d}]" for d in summary["spearman"]}


def test_truth_table_is_the_built_in_one():
    """The built-in ground truth's content, pinned: column sums to 1e-12 and NATS #1462's accuracies."""
    from golden import truth_sums

    from meco_lab.benchmarks.truth import load_table_truth

    sums, pinned = truth_sums(), GOLDEN["truth_sums"]
    assert sums.keys() == pinned.keys()
    for column, value in pinned.items():
        assert sums[column] == pytest.approx(value, rel=1e-12), f"{column}: run `{REGENERATE}` if deliberate"
    truth = load_table_truth("test")  # NATS #1462 (all nor_conv_3x3): the paper's Table 13 values
    assert [round(truth.values[d][1462], 2) for d in truth.values] == [93.76, 71.11, 41.44]
