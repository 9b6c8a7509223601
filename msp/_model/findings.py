"""What ``msp_doctor`` reports: one finding per thing checked."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["ok", "info", "warning", "problem"]


class Finding(BaseModel):
    """One result of a check.

    ``ok``: checked and fine. ``info``: worth knowing, nothing to do. ``warning``: works, but
    something will be skipped or degrade. ``problem``: will not work until fixed;
    ``msp integrations doctor`` exits non-zero when any finding is a problem. ``fix`` says
    what to do, in a sentence or a command.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity
    message: str = Field(min_length=1)
    fix: str | None = None
