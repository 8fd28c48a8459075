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
