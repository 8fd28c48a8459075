"""Token counts and cost: fixed numbers derived from text lengths, priced like the real API.

Nothing here measures anything: a "token" is four characters, so the same run always
reports the same usage and cost.
"""

from dataclasses import dataclass
from typing import Any

# US dollars per million input / output tokens, by model family (list prices).
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "opus": (5.0, 25.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
}
CONTEXT_WINDOW = 1_000_000
MAX_OUTPUT_TOKENS = 64_000
# Input tokens grow each turn as the conversation gets longer.
CONTEXT_GROWTH_PER_TURN = 32
# Simulated model latency, reported as duration_api_ms (never measured).
API_MS_PER_TURN = 40


def estimate_tokens(text: str) -> int:
    """About four characters per token, at least one."""
    return max(1, (len(text) + 3) // 4)


def output_tokens_for(text: str) -> int:
    """Output tokens of one content block, capped as the API caps a single message."""
    return min(estimate_tokens(text), MAX_OUTPUT_TOKENS)


def prices_for(model: str) -> tuple[float, float]:
    """The (input, output) price per token of `model`; unknown families cost like sonnet."""
    for family, (price_in, price_out) in PRICES_PER_MTOK.items():
        if family in model:
            return price_in / 1_000_000, price_out / 1_000_000
    price_in, price_out = PRICES_PER_MTOK["sonnet"]
    return price_in / 1_000_000, price_out / 1_000_000


def message_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """The `usage` of one assistant message, as the Messages API returns it."""
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


@dataclass
class Tally:
    """Running totals of one process, reported in the final `result` line."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    @property
    def cost_usd(self) -> float:
        if not (self.input_tokens or self.output_tokens):
            return 0  # the CLI writes a plain 0 when nothing was spent
        price_in, price_out = prices_for(self.model)
        return self.input_tokens * price_in + self.output_tokens * price_out

    def result_usage(self) -> dict[str, Any]:
        """The cumulative `usage` object of a `result` line."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"thinking_tokens": 0},
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            "inference_geo": "",
            "iterations": [],
            "speed": "standard",
            "fallback_credit": None,
        }

    def model_usage(self) -> dict[str, Any]:
        """The `modelUsage` object of a `result` line: one entry per model used."""
        if not (self.input_tokens or self.output_tokens):
            return {}
        return {
            self.model: {
                "inputTokens": self.input_tokens,
                "outputTokens": self.output_tokens,
                "cacheReadInputTokens": 0,
                "cacheCreationInputTokens": 0,
                "webSearchRequests": 0,
                "costUSD": self.cost_usd,
                "contextWindow": CONTEXT_WINDOW,
                "maxOutputTokens": MAX_OUTPUT_TOKENS,
                "thinkingTokens": 0,
                "cacheCreationEphemeral5mInputTokens": 0,
                "cacheCreationEphemeral1hInputTokens": 0,
                "canonicalModel": self.model,
                "provider": "firstParty",
                "costBasis": "list",
            }
        }
