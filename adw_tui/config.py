"""Settings read from `ADW_*` environment variables (pydantic-settings)."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings; command-line flags override them."""

    model_config = SettingsConfigDict(env_prefix="ADW_", extra="ignore")

    db: Path | None = Field(
        default=None, description="State database; default <repo>/agents/adw_state.db"
    )
    busy_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for another process's write lock"
    )
    db_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="SQLite synchronous mode: FULL survives power loss, NORMAL only crashes",
    )
    claude_permission_mode: str | None = Field(
        default=None,
        description="--permission-mode for Claude Code; unset runs with "
        "--dangerously-skip-permissions, as the original ADW did",
    )
    agent_env: list[str] = Field(
        default_factory=list,
        description="extra environment variables agents may see (JSON list; `PREFIX_*` allowed)",
    )
    agent_timeout: float = Field(default=3600.0, gt=0, description="seconds for a whole agent call")
    agent_idle_timeout: float = Field(
        default=600.0, gt=0, description="seconds an agent may go without output"
    )
    kill_grace: float = Field(
        default=5.0, ge=0, description="seconds between SIGTERM and SIGKILL of an agent"
    )
