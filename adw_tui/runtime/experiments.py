"""The repository's experiments (`.adw/experiments.yaml`), and the variant a new run of
an experiment's workflow gets (see `adw_tui.domain.experiments`).

```yaml
experiments:
  - name: heavy-plans
    workflow: plan_build
    variants:
      - {name: base, model_set: base}
      - {name: heavy, model_set: heavy}
```

The file is read again when it changes. A file that does not load is an error naming
the file and the field, raised by the launch (no run starts on a half-read experiment).
"""

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from adw_tui.agents.names import ENGINE_NAMES
from adw_tui.domain.errors import AdwError
from adw_tui.domain.experiments import (
    STEP_MODELS,
    Choice,
    Experiment,
    choose,
    takes_part,
    tallies,
)
from adw_tui.store import Store

EXPERIMENTS_FILE = Path(".adw") / "experiments.yaml"


class _File(BaseModel):
    experiments: list[Experiment] = Field(default_factory=list)


class ExperimentError(AdwError):
    pass


@dataclass(frozen=True, slots=True)
class Assignment:
    """What a run of an experiment runs with, and why."""

    experiment: str
    choice: Choice

    def state(self) -> dict[str, Any]:
        """What the run's first state gets: the experiment, the variant and the draws
        (`experiment`), and the variant's models per step (`step_models`)."""
        variant = self.choice.variant
        recorded = {
            "name": self.experiment,
            "variant": variant.name,
            "draws": {name: round(value, 4) for name, value in self.choice.draws.items()},
        }
        return {"experiment": recorded, **({STEP_MODELS: variant.models} if variant.models else {})}


class Experiments:
    """The experiments of `repo`, read when the file changes."""

    def __init__(self, repo: Path, rng: random.Random | None = None) -> None:
        self._path = repo / EXPERIMENTS_FILE
        self._rng = rng or random.Random()
        self._read: tuple[float, dict[str, Experiment]] | None = None

    def by_name(self) -> dict[str, Experiment]:
        return {experiment.name: experiment for experiment in self._by_workflow().values()}

    async def assign(self, store: Store, workflow: str) -> Assignment | None:
        """The variant a new run of `workflow` gets; None when no experiment takes it."""
        experiment = self._by_workflow().get(workflow)
        if experiment is None or not takes_part(experiment, self._rng):
            return None
        runs = await store.experiment_runs(experiment.name)
        return Assignment(experiment.name, choose(experiment, tallies(experiment, runs), self._rng))

    def in_turn(self, workflow: str, index: int) -> Assignment | None:
        """The `index`-th variant (from 0, round robin) of the experiment on `workflow`,
        not drawn: a best-of group tries the variants side by side, and the operator's
        choice among them is their outcome (see `Store.experiment_runs`)."""
        experiment = self._by_workflow().get(workflow)
        if experiment is None:
            return None
        variant = experiment.variants[index % len(experiment.variants)]
        return Assignment(experiment.name, Choice(variant, {}))

    def _by_workflow(self) -> dict[str, Experiment]:
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if self._read is None or self._read[0] != mtime:
            self._read = (mtime, self._load())
        return self._read[1]

    def _load(self) -> dict[str, Experiment]:
        import yaml  # here: most repositories have no experiments, and every start pays it

        where = EXPERIMENTS_FILE
        try:
            loaded = _File.model_validate(yaml.safe_load(self._path.read_text("utf-8")) or {})
        except yaml.YAMLError as error:
            raise ExperimentError(f"{where}: not YAML: {error}") from error
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise ExperimentError(f"{where}: {field}: {first['msg']}") from error
        by_workflow: dict[str, Experiment] = {}
        for experiment in loaded.experiments:
            for variant in experiment.variants:
                if variant.engine is not None and variant.engine not in ENGINE_NAMES:
                    raise ExperimentError(
                        f"{where}: experiment {experiment.name}, variant {variant.name}: "
                        f"unknown engine {variant.engine!r} (one of {', '.join(ENGINE_NAMES)})"
                    )
            if experiment.workflow in by_workflow:
                raise ExperimentError(
                    f"{where}: experiments {by_workflow[experiment.workflow].name} and "
                    f"{experiment.name} both take the runs of {experiment.workflow}: keep one"
                )
            by_workflow[experiment.workflow] = experiment
        return by_workflow
