"""An agent's events as readable rich markup, shared by the CLI transcript and the TUI.

Pure rendering (rich markup strings, no console, no textual) so that `adw prompt` and
the dashboard's agent panes show a call the same way and neither imports the other.
The markup names no colour: its styles are `Tone`s, which each view resolves, the
dashboard from its theme (`adw_tui.tui.tones`), the CLI to a fixed palette
(`adw_tui.cli.transcript`).
"""

from enum import StrEnum

from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentResult
from adw_tui.domain.sanitize import safe_markup


class Tone(StrEnum):
    """What a part of a transcript is, as a rich style name (`[transcript.tool]...[/]`)."""

    MUTED = "transcript.muted"
    THINKING = "transcript.thinking"
    TOOL = "transcript.tool"
    WARNING = "transcript.warning"
    FAILURE = "transcript.failure"
    """A tool call that failed: the agent goes on."""
    ERROR = "transcript.error"
    """The call itself failed."""
    SUCCESS = "transcript.success"


_STYLES = {
    AgentEventKind.INIT: (Tone.MUTED, "●"),
    AgentEventKind.THINKING: (Tone.THINKING, "…"),
    AgentEventKind.TOOL_USE: (Tone.TOOL, "→"),
    AgentEventKind.RETRY: (Tone.WARNING, "↻"),
    AgentEventKind.RATE_LIMIT: (Tone.WARNING, "⏳"),
    AgentEventKind.WARNING: (Tone.WARNING, "!"),
    AgentEventKind.ERROR: (Tone.ERROR, "✖"),
}


def event_markup(event: AgentEvent) -> str | None:
    """One event as rich markup, or None for events a person need not see."""
    kind = event.kind
    if kind is AgentEventKind.TEXT:
        return safe_markup(event.text)
    if kind is AgentEventKind.TOOL_USE:
        tool = safe_markup(event.tool_name or "?")
        return f"[{Tone.TOOL}]→ {tool}[/] {safe_markup(event.text)}"
    if kind is AgentEventKind.TOOL_RESULT:
        tone, label = (Tone.FAILURE, "error") if event.is_error else (Tone.MUTED, "ok")
        lines = event.text.splitlines() or [""]
        indented = "\n    ".join(safe_markup(line) for line in lines)
        return f"[{tone}]  ← {label}: {indented}[/]"
    if kind is AgentEventKind.UNKNOWN:
        return f"[{Tone.WARNING}]? {safe_markup(event.text)}[/]" if event.is_error else None
    if kind is AgentEventKind.RESULT:
        return None
    tone, mark = _STYLES[kind]
    return f"[{tone}]{mark} {safe_markup(event.text)}[/]"


def result_markup(result: AgentResult, run_dir: str) -> str:
    """The closing line: what it cost and where its files are, or why it failed."""
    if result.success:
        turns = f"{result.num_turns} turn{'' if result.num_turns == 1 else 's'}"
        # `~`: adw priced the tokens itself (the engine reports no cost).
        cost = f"{'~' if result.cost_estimated else ''}${result.cost_usd:.4f}"
        return (
            f"[{Tone.SUCCESS}]✔ done[/] in {turns} · {cost} · "
            f"{result.duration_ms / 1000:.1f}s · session {result.session_id or '-'} · "
            f"{safe_markup(run_dir)}"
        )
    kind = "transient" if result.transient else "permanent"
    lines = [
        f"[{Tone.ERROR}]✖ failed[/]: {result.error_class} ({kind}): "
        f"{safe_markup(result.error_message)}",
        f"[{Tone.MUTED}]output in {safe_markup(run_dir)}[/]",
    ]
    if result.stderr_tail.strip():
        tail = result.stderr_tail.strip().splitlines()[-5:]
        shown = "\n  ".join(safe_markup(line) for line in tail)
        lines.append(f"[{Tone.MUTED}]stderr:\n  {shown}[/]")
    return "\n".join(lines)
