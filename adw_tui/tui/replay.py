"""Replaying a dead letter from the dashboard, as the dead letters' `r` and `R` and the
command palette's "Replay dead letter N" do: through the app's orchestrator, so the run
streams in the dashboard like any other."""

from textual.dom import DOMNode

from adw_tui.domain.errors import AdwError
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.tui.notify import notify_text


async def replay_letter(
    node: DOMNode, orchestrator: Orchestrator, letter_id: int, *, from_start: bool = False
) -> None:
    """Replay a dead letter and say what happened: the run and the step its new attempt
    starts from, or why the replay was refused."""
    try:
        adw_id = await orchestrator.replay(letter_id, from_start=from_start)
        replays = (await orchestrator.store.dead_letters.get(letter_id)).replays
    except AdwError as error:
        notify_text(node, str(error), title="not replayed", severity="error", timeout=8)
        return
    notify_text(
        node,
        f"run {adw_id}: a new attempt started from {replays[-1].from_step}",
        title=f"dead letter {letter_id} replayed",
    )
