"""`adw` starts with the garbage collector paused (`adw_tui.cli.collector`): it is off
through the start, on again once the work begins or when the caller resumes it early,
and a caller that had it off finds it off."""

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from adw_tui.cli import main
from adw_tui.cli.collector import paused_collector


@pytest.fixture
def collecting() -> Iterator[None]:
    """The collector on, as a process starts, and left as found."""
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_off_inside_and_on_again_when_resumed_or_left(collecting: None) -> None:
    with paused_collector() as resume:
        assert not gc.isenabled()
        resume()
        assert gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_collector():
        raise RuntimeError
    assert gc.isenabled()


def test_a_caller_that_had_it_off_keeps_it_off(collecting: None) -> None:
    gc.disable()
    with paused_collector() as resume:
        resume()
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_adw_leaves_the_collector_as_it_found_it(
    collecting: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", str(tmp_path / "adw_state.db"), "runs", "--json"]) == 0
    assert gc.isenabled()
    with pytest.raises(SystemExit):
        main(["--version"])
    assert gc.isenabled()
