"""Shared schema pieces: list envelopes, delivery reports."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

T = TypeVar("T")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class InputModel(BaseModel):
    """Request bodies refuse unknown fields so typos are reported, not ignored, and text with a
    NUL character (PostgreSQL cannot store one; SQLite would: the same answer on both)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul_character(cls, value: object) -> object:
        texts = value if isinstance(value, list | tuple) else (value,)
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("must not contain the NUL character (\\u0000)")
        return value


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ItemList(BaseModel, Generic[T]):
    """Every list endpoint answers ``{"items": [...], "count": n}``."""

    items: list[T]
    count: int

    @classmethod
    def of(cls, items: list[T]) -> ItemList[T]:
        return cls(items=items, count=len(items))


class DeliveryReport(BaseModel):
    """Manifest publication caused by a change: how many devices, and which are still pending.

    ``pending`` devices get their manifest as soon as the broker is reachable again.
    """

    devices: int
    changed: int
    published: int
    pending: int
    pending_ids: list[str] = Field(default_factory=list, description="first 50 pending ids")
