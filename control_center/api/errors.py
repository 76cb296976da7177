"""Map the center's exceptions and request validation errors to readable JSON answers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, OperationalError

from control_center.errors import CenterError, NotAuthenticated, TooManyAttempts

log = logging.getLogger(__name__)


async def center_error_json(_request: Request, exc: Exception) -> JSONResponse:
    """A CenterError as ``{"detail", "error"}`` with its status code."""
    assert isinstance(exc, CenterError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after_s)}
    if exc.status_code >= 500:
        log.error("request failed: %s", exc)
    return JSONResponse(
        {"detail": str(exc), "error": type(exc).__name__},
        status_code=exc.status_code,
        headers=headers,
    )


def _location(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
         "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{_location(tuple(e['loc']))}: {e['msg']}" for e in errors[:5])
    return JSONResponse(
        {"detail": summary or "invalid request", "error": "ValidationError", "errors": errors},
        status_code=422,
    )


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("database error: %s", exc)
    return JSONResponse(
        {"detail": "the database is busy or unavailable; retry in a moment",
         "error": "DatabaseUnavailable"},
        status_code=503,
    )


_STRING_TOO_LONG = "22001"  # PostgreSQL's SQLSTATE string_data_right_truncation


async def _out_of_range(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold (say an id beyond 64 bits in a body): the input's fault."""
    return await database_value_error(exc)


async def database_value_error(exc: Exception) -> JSONResponse:
    """The 422 answer for a value the database refused: too long, a NUL, a huge integer."""
    log.info("value out of range: %s", exc)
    cause = getattr(exc, "orig", exc)
    if getattr(cause, "sqlstate", None) == _STRING_TOO_LONG:
        detail = "a text in the request is longer than the database keeps; shorten it"
    elif "NUL" in str(cause):  # psycopg refuses it before sending
        detail = "a text in the request contains the NUL character (\\u0000); remove it"
    else:
        detail = ("a value in the request is out of range for the database (integers are at "
                  f"most {2**63 - 1})")
    return JSONResponse({"detail": detail, "error": "InvalidInput"}, status_code=422)


class ErrorItem(BaseModel):
    loc: list[str]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: a message a person can act on and the error's name."""

    detail: str
    error: str
    errors: list[ErrorItem] | None = Field(
        default=None, description="for a ValidationError: each field and what is wrong")


def describe_errors(openapi: dict[str, object]) -> dict[str, object]:
    """The published schema with FastAPI's default 422 body replaced by the center's own."""
    components = openapi.get("components")
    if isinstance(components, dict) and "HTTPValidationError" in components.get("schemas", {}):
        schemas = components["schemas"]
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas["HTTPValidationError"] = body
    return openapi


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CenterError, center_error_json)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(OverflowError, _out_of_range)  # SQLite's driver
    app.add_exception_handler(DataError, _out_of_range)  # PostgreSQL's numeric overflow
