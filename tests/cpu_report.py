"""Opt-in: which tests burn the CPU. `uv run pytest -p tests.cpu_report` ends with the
tests and the modules that used the most CPU time (user + system), each counting the
worker's own and that of the subprocesses it reaped during the test (`adw`, the agents,
git...), with xdist too. Wall time on a shared machine says little; this says what a test
costs. `--cpu-report N` shows N lines of each (default 20)."""

from collections import defaultdict
from collections.abc import Callable, Generator
from typing import Any, cast

import psutil
import pytest

_PROCESS = psutil.Process()
_KEY = "cpu_report_s"
_spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
"""Per test id (in the controlling process): CPU seconds of the worker itself, and of its
reaped children."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-report",
        type=int,
        default=20,
        metavar="N",
        help="with -p tests.cpu_report: how many tests and modules to list",
    )


def _cpu() -> tuple[float, float]:
    times = _PROCESS.cpu_times()
    return times.user + times.system, times.children_user + times.children_system


def _measured(item: pytest.Item) -> Generator[None, Any, None]:
    before = _cpu()
    yield
    after = _cpu()
    item.user_properties.append((_KEY, (after[0] - before[0], after[1] - before[1])))


def _phase() -> Callable[[pytest.Item], Generator[None, Any, None]]:
    @pytest.hookimpl(hookwrapper=True)
    def wrapper(item: pytest.Item) -> Generator[None, Any, None]:
        yield from _measured(item)

    return wrapper


# Each phase is measured before its report is made, so the figure travels in the report
# (from an xdist worker to the controlling process).
pytest_runtest_setup = _phase()
pytest_runtest_call = _phase()
pytest_runtest_teardown = _phase()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entries = [value for key, value in report.user_properties if key == _KEY]
    if entries:  # a report carries every phase's figure so far: the newest is this phase's
        own, children = cast(tuple[float, float], entries[-1])
        _spent[report.nodeid][0] += own
        _spent[report.nodeid][1] += children


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if not _spent:
        return
    lines = config.getoption("--cpu-report")
    write = terminalreporter.write_line
    total = sum(own + children for own, children in _spent.values())
    terminalreporter.section(f"CPU time: {total:.1f} s in {len(_spent)} tests")
    write(f"{'total':>7} {'own':>7} {'children':>8}  test")
    ranked = sorted(_spent.items(), key=lambda entry: -sum(entry[1]))
    for nodeid, (own, children) in ranked[:lines]:
        write(f"{own + children:7.2f} {own:7.2f} {children:8.2f}  {nodeid}")
    modules: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for nodeid, (own, children) in _spent.items():
        module = modules[nodeid.split("::")[0]]
        module[0] += own
        module[1] += children
        module[2] += 1
    write("")
    write(f"{'total':>7} {'own':>7} {'children':>8} {'tests':>5}  module")
    for name, (own, children, count) in sorted(modules.items(), key=lambda m: -m[1][0] - m[1][1])[
        :lines
    ]:
        write(f"{own + children:7.2f} {own:7.2f} {children:8.2f} {int(count):5d}  {name}")
