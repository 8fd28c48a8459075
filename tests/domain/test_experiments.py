"""Thompson sampling and the fixed split, with fixed seeds: a clearly better variant
takes most of the traffic after 200 outcomes, equal ones stay near even; and the
summaries `adw experiments` prints."""

import random

import pytest
from pydantic import ValidationError

from adw_tui.domain.experiments import (
    DecidedRun,
    Experiment,
    Tally,
    Variant,
    choose,
    posteriors,
    reward,
    tallies,
)


def experiment(mode: str = "thompson", **weights: float) -> Experiment:
    return Experiment.model_validate(
        {
            "name": "trial",
            "workflow": "plan_build",
            "mode": mode,
            "variants": [
                {"name": name, "weight": weight}
                for name, weight in (weights or {"a": 1, "b": 1}).items()
            ],
        }
    )


def simulate(trial: Experiment, rates: dict[str, float], runs: int, seed: int) -> dict[str, int]:
    """`runs` runs, each given a variant and an outcome drawn at that variant's rate;
    how many runs each variant got."""
    rng = random.Random(seed)
    tallies = {name: Tally() for name in rates}
    given = dict.fromkeys(rates, 0)
    for _ in range(runs):
        name = choose(trial, tallies, rng).variant.name
        given[name] += 1
        before = tallies[name]
        won = rng.random() < rates[name]
        tallies[name] = Tally(before.runs + 1, before.succeeded + won, before.reward + won)
    return given


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_clearly_better_variant_gets_most_of_the_traffic(seed: int) -> None:
    given = simulate(experiment(), {"a": 0.8, "b": 0.4}, runs=200, seed=seed)
    assert given["a"] > 0.8 * 200
    assert given["b"] > 0  # the worse one was still tried


def test_equal_variants_stay_near_even() -> None:
    """On average over many experiments: one experiment's split wanders (Thompson
    sampling follows its own luck between equal variants), with no lean either way."""
    shares = sorted(
        simulate(experiment(), {"a": 0.6, "b": 0.6}, runs=200, seed=seed)["a"] / 200
        for seed in range(200)
    )
    # Each share has a spread of ~0.27: the mean of 200, ~0.02.
    assert sum(shares) / len(shares) == pytest.approx(0.5, abs=0.06)
    assert 0.3 < shares[len(shares) // 2] < 0.7  # the median experiment


def test_the_fixed_split_follows_the_weights() -> None:
    given = simulate(experiment("fixed", a=3, b=1), {"a": 0.1, "b": 0.9}, runs=2000, seed=9)
    assert given["a"] == pytest.approx(1500, abs=90)  # outcomes change nothing


def test_a_choice_keeps_what_was_drawn_for_each_variant() -> None:
    choice = choose(experiment(), {"a": Tally(10, 9, 9.0)}, random.Random(0))
    assert set(choice.draws) == {"a", "b"}
    assert choice.variant.name == max(choice.draws, key=lambda name: choice.draws[name])


def test_posteriors_say_which_variant_is_likely_best() -> None:
    better, worse = posteriors(experiment(), {"a": Tally(50, 40, 40.0), "b": Tally(50, 20, 20.0)})
    assert better.mean == pytest.approx(41 / 52)
    assert better.low < better.mean < better.high
    assert better.p_best > 0.99
    assert worse.p_best < 0.01
    assert better.runs == 50
    # Seeded: the same outcomes always print the same figures.
    assert posteriors(experiment(), {"a": Tally(4, 1)}) == posteriors(
        experiment(), {"a": Tally(4, 1)}
    )


def test_an_experiment_needs_two_distinct_variants() -> None:
    with pytest.raises(ValidationError, match="at least 2"):
        Experiment(name="x", workflow="sdlc", variants=[Variant(name="a")])
    with pytest.raises(ValidationError, match="variant names repeat"):
        Experiment(name="x", workflow="sdlc", variants=[Variant(name="a"), Variant(name="a")])


def test_each_metric_scores_a_decided_run() -> None:
    def scored(metric: str, **fields: object) -> float:
        trial = Experiment.model_validate(
            {
                "name": "t",
                "workflow": "w",
                "variants": [{"name": "a"}, {"name": "b"}],
                "metric": metric,
                "cost_scale_usd": 4.0,
                "duration_scale_s": 100.0,
                **fields,
            }
        )
        return reward(trial, DecidedRun("a", succeeded=True, cost_usd=1.0, duration_s=25.0))

    assert scored("success") == 1.0
    assert scored("cost") == 0.75
    assert scored("duration") == 0.75
    assert scored("mix", weights={"success": 2, "cost": 1, "duration": 1}) == 0.875
    trial = experiment()
    assert reward(trial, DecidedRun("a", succeeded=False, cost_usd=0.0, duration_s=1.0)) == 0.0
    counted = tallies(trial, [DecidedRun("a", True, 0, 0), DecidedRun("a", False, 0, 0)])
    assert counted == {"a": Tally(runs=2, succeeded=1, reward=1.0)}


def test_the_cheaper_of_two_equally_successful_variants_wins_on_cost() -> None:
    trial = Experiment.model_validate(
        {"name": "t", "workflow": "w", "variants": [{"name": "a"}, {"name": "b"}], "metric": "cost"}
    )
    runs = [DecidedRun("a", True, 0.5, 60) for _ in range(30)]
    runs += [DecidedRun("b", True, 4.0, 60) for _ in range(30)]
    cheap, dear = posteriors(trial, tallies(trial, runs))
    assert cheap.p_best > 0.99
    assert cheap.succeeded == dear.succeeded == 30
