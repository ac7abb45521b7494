"""The base of every model read from YAML (the inventory, the playbooks, each connector's settings).

Imported only by the code that validates YAML: pydantic stays out of ``itref --help``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
"""Names of hosts, entities, secrets, routines, templates: letters, digits, '.', '_' and '-'."""
Text = Annotated[str, StringConstraints(min_length=1)]
"""A text that must say something: an empty string is an error, not "left out"."""

MESSAGES: dict[str, str] = {}
"""Message ids of the models' own errors (code → catalogue text); ``config.validate`` translates them.
Each module defining models adds its own (see :func:`fail`)."""


def fail(code: str, **ctx: Any) -> PydanticCustomError:
    """Return the model error ``code`` (a key of :data:`MESSAGES`) with its context, for a validator to raise."""
    return PydanticCustomError(code, MESSAGES[code], ctx or None)


class Strict(BaseModel):
    """Base of every model: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
