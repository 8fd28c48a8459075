"""The base of adw's pydantic models."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model whose validator is built on first use, not at import.

    A command imports far more models than it uses (the settings bring the domain with
    them), and building each one's schema when its class is made cost a short command
    such as `adw prompt` some 20 ms before its agent could start.
    """

    model_config = ConfigDict(defer_build=True)
