"""The dashboard's line about the triggers: which are at work on this database (`adw
webhook`, `adw poll`, in any process), the newest delivery, and what the last day's
deliveries came to. Hidden while there is nothing to say."""

from dataclasses import dataclass
from datetime import datetime

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from adw_tui.domain.sanitize import terminal_safe
from adw_tui.store.deliveries import Delivery, DeliveryOutcome, DeliverySummary

OUTCOME_STYLES = {
    DeliveryOutcome.STARTED: "$success",
    DeliveryOutcome.REFUSED: "$warning",
    DeliveryOutcome.IGNORED: "dim",
    DeliveryOutcome.PENDING: "dim",
}


@dataclass(frozen=True)
class TriggerActivity:
    at_work: tuple[str, ...] = ()
    """What each live trigger says it is: `webhook http://127.0.0.1:8001/gh-webhook`."""
    summary: DeliverySummary | None = None
    """Deliveries of the last day, by outcome, and the newest delivery."""

    @property
    def quiet(self) -> bool:
        return not self.at_work and (self.summary is None or self.summary.newest is None)


class TriggerLine(Widget):
    """One line under the gauges: triggers at work, the newest delivery, the day's counts."""

    activity: reactive[TriggerActivity] = reactive(TriggerActivity)

    def watch_activity(self, activity: TriggerActivity) -> None:
        self.display = not activity.quiet

    def render(self) -> Content:
        activity = self.activity
        parts: list[Content | tuple[str, str] | str] = [("triggers ", "dim")]
        parts.append(
            ", ".join(terminal_safe(what) for what in activity.at_work) or ("none at work", "dim")
        )
        summary = activity.summary
        if summary is not None and summary.newest is not None:
            parts += [("  last ", "dim"), *_delivery(summary.newest)]
        if summary is not None:
            counts = [
                (f"{summary.counts.get(outcome, 0)} {outcome}", style)
                for outcome, style in OUTCOME_STYLES.items()
                if outcome is not DeliveryOutcome.PENDING
            ]
            parts += [("  24h ", "dim"), *_joined(counts)]
        return Content.assemble(*parts)


def _delivery(delivery: Delivery) -> list[tuple[str, str] | str]:
    """`05:40:12 issues.opened #12 started 1a2b3c4d`."""
    event = ".".join(part for part in (delivery.event, delivery.action) if part)
    text = [f"{_clock(delivery.received_at)} {terminal_safe(event)}"]
    if delivery.issue is not None:
        text.append(f" #{delivery.issue}")
    parts: list[tuple[str, str] | str] = [
        "".join(text),
        (f" {delivery.outcome}", OUTCOME_STYLES[delivery.outcome]),
    ]
    if delivery.adw_id:
        parts.append(f" {delivery.adw_id}")
    elif delivery.reason:
        parts.append((f" ({terminal_safe(delivery.reason)})", "dim"))
    return parts


def _joined(items: list[tuple[str, str]]) -> list[tuple[str, str] | str]:
    joined: list[tuple[str, str] | str] = []
    for index, item in enumerate(items):
        if index:
            joined.append(", ")
        joined.append(item)
    return joined


def _clock(iso: str | None) -> str:
    """`05:40:12`, in the machine's time zone, of an ISO time; `?` when there is none."""
    if not iso:
        return "?"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return "?"
