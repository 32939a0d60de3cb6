"""Fixtures for the Python SDK suite, which runs against a live NeoForge server.

NEOFORGE_BASE_URL points at it; the retry tests need it started with `--inject-faults`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, AsyncIterator, Dict, Iterator, List

import httpx
import pytest
import pytest_asyncio

import neoforge

BASE_URL = os.environ.get("NEOFORGE_BASE_URL", "")
if not BASE_URL:
    raise pytest.UsageError(
        "NEOFORGE_BASE_URL is not set: start `neoforge serve --inject-faults` and point it there"
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def faults(status: int, times: int, retry_after: int = 0) -> Dict[str, str]:
    """Headers making the server fail the first `times` requests with `status`."""
    return {
        "NeoForge-Fault": str(status),
        "NeoForge-Fault-Key": unique("fault"),
        "NeoForge-Fault-Times": str(times),
        "NeoForge-Fault-Retry-After": str(retry_after),
    }


@pytest.fixture
def token() -> str:
    """A session token for a brand-new user and organization (sign-up needs no credential)."""
    with neoforge.Client("anonymous", base_url=BASE_URL) as anonymous:
        signup = anonymous.users.create(email=f"{unique('py')}@example.com", password="correct horse battery")
    return signup.session.token


@pytest.fixture
def client(token: str) -> Iterator[neoforge.Client]:
    with neoforge.Client(token, base_url=BASE_URL) as client:
        yield client


@pytest_asyncio.fixture
async def async_client(token: str) -> AsyncIterator[neoforge.AsyncClient]:
    async with neoforge.AsyncClient(token, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> List[httpx.Request]:
    """Every request the clients put on the wire, retries included."""
    requests: List[httpx.Request] = []
    send, asend = httpx.Client.send, httpx.AsyncClient.send

    def spy(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        requests.append(request)
        return send(self, request, **kwargs)

    async def async_spy(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        requests.append(request)
        return await asend(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", spy)
    monkeypatch.setattr(httpx.AsyncClient, "send", async_spy)
    return requests
