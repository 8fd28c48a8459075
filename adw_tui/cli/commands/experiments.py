"""`adw experiments [show NAME]`: each experiment's variants with their decided runs,
the posterior mean success rate and its 95% interval, and the probability that each is
the best."""

import argparse
from dataclasses import asdict

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.domain.errors import AdwError
from adw_tui.domain.experiments import Experiment, Posterior, posteriors, tallies
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.experiments import EXPERIMENTS_FILE, Experiments


async def show_experiments(args: argparse.Namespace, context: CliContext) -> int:
    if args.verb == "show" and args.name is None:
        raise AdwError("adw experiments show needs the experiment's NAME")
    experiments = Experiments(context.repo).by_name()
    if args.name is not None:
        if args.name not in experiments:
            known = ", ".join(experiments) or f"none: {EXPERIMENTS_FILE} declares them"
            raise AdwError(f"no experiment {args.name!r} (known: {known})")
        experiments = {args.name: experiments[args.name]}
    results: dict[str, list[Posterior]] = {}
    async with context.existing_store() as store:
        for name, experiment in experiments.items():
            runs = await store.experiment_runs(name) if store is not None else []
            results[name] = posteriors(experiment, tallies(experiment, runs))
    if args.json:
        print_json(
            [
                {
                    **experiment.model_dump(mode="json"),
                    "posteriors": [asdict(posterior) for posterior in results[name]],
                }
                for name, experiment in experiments.items()
            ]
        )
        return 0
    if not experiments:
        console.print(f"No experiments: {EXPERIMENTS_FILE} declares them (see the README).")
        return 0
    for name, experiment in experiments.items():
        console.print(_table(experiment, results[name]))
    return 0


def _table(experiment: Experiment, found: list[Posterior]) -> Table:
    mode = "Thompson sampling" if experiment.mode == "thompson" else "fixed split"
    share = "" if experiment.share >= 1 else f", {experiment.share:.0%} of runs"
    table = Table(
        title=f"{safe_markup(experiment.name)}: {safe_markup(experiment.workflow)} ({mode}{share})"
    )
    for column in ("variant", "runs", "succeeded", "mean", "95% interval", "P(best)", "runs with"):
        table.add_column(column, justify="left" if column in ("variant", "runs with") else "right")
    by_name = {variant.name: variant for variant in experiment.variants}
    for posterior in found:
        variant = by_name[posterior.variant]
        changes = [
            f"{key}={value}"
            for key, value in (
                ("workflow", variant.workflow),
                ("model_set", variant.model_set),
                ("engine", variant.engine),
            )
            if value
        ] + [f"env {key}" for key in variant.env]
        table.add_row(
            safe_markup(posterior.variant),
            str(posterior.runs),
            str(posterior.succeeded),
            f"{posterior.mean:.0%}",
            f"{posterior.low:.0%}-{posterior.high:.0%}",
            f"{posterior.p_best:.0%}",
            safe_markup(", ".join(changes) or "the launch's own"),
        )
    return table
