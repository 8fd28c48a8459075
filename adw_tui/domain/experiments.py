"""A/B experiments on workflows: the variants a run may get, and which one it gets.

An experiment names a workflow; each new run of it takes a variant (another workflow, a
model set, an engine, extra agent environment). In the `thompson` mode the variant is
drawn by Thompson sampling over the recorded outcomes: each decided run scores a reward
between 0 and 1 by the experiment's metric (success; or a success's cheapness or speed
against a scale; or a weighted mix), each variant's expected reward has a
Beta(1 + rewards, 1 + runs - rewards) posterior (fractional rewards count as fractional
successes), one value is drawn from each, and the highest wins, so traffic moves to the
better variant as evidence grows while a variant with few runs still gets tried. The
`fixed` mode splits traffic by the variants' `weight`s, a plain A/B test. The draws are
kept with the run, so a choice can be explained afterwards.
"""

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from adw_tui.domain.model_sets import ModelSetName
from adw_tui.domain.modeling import Model

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
STEP_MODELS = "step_models"
"""The run-state key of a variant's models per step, which win over the workflow's."""
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
    models: dict[str, str] = Field(
        default_factory=dict, description="a model per step name, over the workflow's own"
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="extra variables its agents get (ADW_SIM_FAULTS)"
    )
    weight: float = Field(default=1.0, gt=0, description="its share of traffic, `fixed` mode")


class MetricWeights(Model):
    """How much each part counts in the `mix` metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    success: float = Field(default=1.0, ge=0)
    cost: float = Field(default=1.0, ge=0)
    duration: float = Field(default=1.0, ge=0)


class Experiment(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    workflow: str = Field(pattern=NAME_PATTERN, description="whose new runs take part")
    variants: list[Variant] = Field(min_length=2)
    mode: Literal["thompson", "fixed"] = "thompson"
    metric: Literal["success", "cost", "duration", "mix"] = Field(
        default="success",
        description="what a decided run scores: success (1 or 0); cost (a success's "
        "cheapness: 1 - cost / cost_scale_usd, at least 0; a failure 0); duration (the "
        "same of its wall time against duration_scale_s); mix (the three, weighted)",
    )
    weights: MetricWeights = Field(default_factory=MetricWeights)
    cost_scale_usd: float = Field(default=5.0, gt=0, description="a run this dear scores 0")
    duration_scale_s: float = Field(default=3600.0, gt=0, description="a run this slow scores 0")
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
class DecidedRun:
    """A run of the experiment that succeeded, failed or was dead-lettered."""

    variant: str
    succeeded: bool
    cost_usd: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Tally:
    """A variant's decided runs so far, and the rewards they scored."""

    runs: int = 0
    succeeded: int = 0
    reward: float = 0.0


def reward(experiment: Experiment, run: DecidedRun) -> float:
    """What `run` scores by the experiment's metric, between 0 and 1."""
    if not run.succeeded:
        return 0.0
    parts = {
        "success": 1.0,
        "cost": max(0.0, 1 - run.cost_usd / experiment.cost_scale_usd),
        "duration": max(0.0, 1 - run.duration_s / experiment.duration_scale_s),
    }
    if experiment.metric != "mix":
        return parts[experiment.metric]
    weights = experiment.weights.model_dump()
    total = sum(weights.values())
    return sum(parts[name] * weight for name, weight in weights.items()) / total if total else 0.0


def tallies(experiment: Experiment, runs: Iterable[DecidedRun]) -> dict[str, Tally]:
    """Each variant's tally of `runs`."""
    found: dict[str, Tally] = {}
    for run in runs:
        before = found.get(run.variant, Tally())
        found[run.variant] = Tally(
            before.runs + 1,
            before.succeeded + run.succeeded,
            before.reward + reward(experiment, run),
        )
    return found


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
    reward: float
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
    """Each variant's posterior mean reward, its 95% credible interval and the
    probability of being the best, estimated from `SUMMARY_DRAWS` seeded draws."""
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
                reward=round(tally.reward, 4),
                mean=(1 + tally.reward) / (2 + tally.runs),
                low=_quantile(ordered, 0.025),
                high=_quantile(ordered, 0.975),
                p_best=wins[name] / SUMMARY_DRAWS,
            )
        )
    return result


def _draw(tally: Tally, rng: random.Random) -> float:
    return rng.betavariate(1 + tally.reward, 1 + tally.runs - tally.reward)


def _quantile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
