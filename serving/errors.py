"""Errors with TF Serving's status codes, shared by the server and the clients.

``HTTP_STATUS`` is TF Serving's own mapping from a status code to the REST
API's HTTP status (``tensorflow_serving/util/net_http`` / ``http_rest_api_util``),
so a REST client sees the same HTTP codes from either server.
"""
from __future__ import annotations

import grpc

Code = grpc.StatusCode

HTTP_STATUS = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}
_BY_VALUE = {c.value[0]: c for c in Code}


def code_from_int(value: int) -> grpc.StatusCode:
    """grpc.StatusCode for a numeric code (TF's ``OpError.error_code`` uses the same numbers)."""
    return _BY_VALUE.get(int(value), Code.UNKNOWN)


def code_from_http(status: int) -> grpc.StatusCode:
    """Best guess of the status code behind an HTTP status (REST errors carry only the latter)."""
    guesses = {400: Code.INVALID_ARGUMENT, 404: Code.NOT_FOUND, 429: Code.RESOURCE_EXHAUSTED,
               413: Code.RESOURCE_EXHAUSTED, 504: Code.DEADLINE_EXCEEDED,
               503: Code.UNAVAILABLE, 501: Code.UNIMPLEMENTED, 499: Code.CANCELLED,
               409: Code.ABORTED, 403: Code.PERMISSION_DENIED, 401: Code.UNAUTHENTICATED}
    return guesses.get(status, Code.INTERNAL if status >= 500 else Code.UNKNOWN)


class ServingError(Exception):
    """A request failed with ``code`` (a ``grpc.StatusCode``) and ``message``."""

    def __init__(self, code: grpc.StatusCode, message: str, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = HTTP_STATUS.get(code, 500) if http_status is None else http_status

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def invalid(message: str) -> ServingError:
    return ServingError(Code.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(Code.NOT_FOUND, message)
