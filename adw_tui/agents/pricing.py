"""The cost of a call whose engine reports only tokens (Codex, Gemini CLI): priced by adw
from the settings' price table, and marked as an estimate."""

from collections.abc import Mapping


def estimate_cost(
    prices: Mapping[str, tuple[float, float]], model: str, input_tokens: int, output_tokens: int
) -> float | None:
    """US dollars for the tokens at the price of the longest table name that `model`
    contains (prices are per million input / output tokens); None when no name matches,
    so that an unpriced model shows as unknown rather than free."""
    matches = [name for name in prices if name in model]
    if not matches:
        return None
    price_in, price_out = prices[max(matches, key=len)]
    return (input_tokens * price_in + output_tokens * price_out) / 1_000_000
