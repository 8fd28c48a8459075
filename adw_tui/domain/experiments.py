"""A/B experiments on workflows: the variants a run may get, and which one it gets.

An experiment names a workflow; each new run of it takes a variant (another workflow, a
model set, an engine, extra agent environment). In the `thompson` mode the variant is
drawn by Thompson sampling over the recorded outcomes: each variant's success rate has a
Beta(1 + successes, 1 + failures) posterior, one value is drawn from each, and the
highest wins, so traffic moves to the better variant as evidence grows while a variant
with few runs still gets tried. The `fixed` mode splits traffic by the variants'
`weight`s, a plain A/B test. The draws are kept with the run, so a choice can be
explained afterwards.
"""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from adw_tui.domain.model_sets import ModelSetName
from adw_tui.domain.modeling import Model

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
SUMMARY_DRAWS = 20_000
"""Draws from each posterior for the intervals and P(best) (Monte Carlo; seeded, so the
same outcomes always print the same figures)."""


class Variant(Model):
    """What a run of the experiment's workflow runs with instead; unset fields keep the
    launch's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    workflow: str | None = Field(default=None, pattern=NAME_PATTERN)
    model_set: ModelSetName | None = None
    engine: str | None = None
    env: dict[str, str] = Field(
        default_factory=dict, description="extra variables its agents get (ADW_SIM_FAULTS)"
    )
    weight: float = Field(default=1.0, gt=0, description="its share of traffic, `fixed` mode")


class Experiment(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    workflow: str = Field(pattern=NAME_PATTERN, description="whose new runs take part")
    variants: list[Variant] = Field(min_length=2)
    mode: Literal["thompson", "fixed"] = "thompson"
    metric: Literal["success"] = "success"
    share: float = Field(
        default=1.0, gt=0, le=1, description="of the workflow's new runs that take part"
    )

    @model_validator(mode="after")
    def _distinct_variants(self) -> "Experiment":
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names repeat: {', '.join(names)}")
        return self


@dataclass(frozen=True, slots=True)
class Tally:
    """A variant's decided runs so far."""

    succeeded: int = 0
    failed: int = 0

    @property
    def runs(self) -> int:
        return self.succeeded + self.failed


@dataclass(frozen=True, slots=True)
class Choice:
    variant: Variant
    draws: Mapping[str, float]
    """What was drawn for each variant (Thompson), or each one's share (fixed)."""


@dataclass(frozen=True, slots=True)
class Posterior:
    variant: str
    runs: int
    succeeded: int
    mean: float
    low: float
    high: float
    p_best: float


def choose(experiment: Experiment, tallies: Mapping[str, Tally], rng: random.Random) -> Choice:
    """The variant a new run gets."""
    variants = experiment.variants
    if experiment.mode == "fixed":
        total = sum(variant.weight for variant in variants)
        picked = rng.choices(variants, weights=[variant.weight for variant in variants])[0]
        return Choice(picked, {variant.name: variant.weight / total for variant in variants})
    draws = {variant.name: _draw(tallies.get(variant.name, Tally()), rng) for variant in variants}
    best = max(variants, key=lambda variant: draws[variant.name])
    return Choice(best, draws)


def takes_part(experiment: Experiment, rng: random.Random) -> bool:
    """Whether a new run of the experiment's workflow is in it (its `share`)."""
    return experiment.share >= 1 or rng.random() < experiment.share


def posteriors(
    experiment: Experiment, tallies: Mapping[str, Tally], *, seed: int = 0
) -> list[Posterior]:
    """Each variant's posterior mean, 95% credible interval and probability of being the
    best, estimated from `SUMMARY_DRAWS` seeded draws."""
    rng = random.Random(seed)
    names = [variant.name for variant in experiment.variants]
    samples = {
        name: [_draw(tallies.get(name, Tally()), rng) for _ in range(SUMMARY_DRAWS)]
        for name in names
    }
    wins = dict.fromkeys(names, 0)
    for draw in zip(*(samples[name] for name in names), strict=True):
        wins[names[max(range(len(names)), key=draw.__getitem__)]] += 1
    result = []
    for name in names:
        tally = tallies.get(name, Tally())
        ordered = sorted(samples[name])
        result.append(
            Posterior(
                variant=name,
                runs=tally.runs,
                succeeded=tally.succeeded,
                mean=(1 + tally.succeeded) / (2 + tally.runs),
                low=_quantile(ordered, 0.025),
                high=_quantile(ordered, 0.975),
                p_best=wins[name] / SUMMARY_DRAWS,
            )
        )
    return result


def _draw(tally: Tally, rng: random.Random) -> float:
    return rng.betavariate(1 + tally.succeeded, 1 + tally.failed)


def _quantile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
