"""Retries: 429 and 5xx are retried with backoff, honouring Retry-After, up to max_retries."""

from __future__ import annotations

import time
from typing import List, Type

import httpx
import pytest

import neoforge
from conftest import BASE_URL, faults


@pytest.mark.parametrize("status", [503, 429])
def test_injected_failures_are_retried(token: str, sent: List[httpx.Request], status: int) -> None:
    with neoforge.Client(token, base_url=BASE_URL, headers=faults(status, times=2)) as client:
        page = client.api_keys.list()
    assert len(sent) == 3
    assert page.last_response is not None and page.last_response.status_code == 200


@pytest.mark.parametrize(
    "status, error", [(503, neoforge.InternalServerError), (429, neoforge.RateLimitError)]
)
def test_without_retries_the_failure_surfaces_typed(
    token: str, sent: List[httpx.Request], status: int, error: Type[neoforge.APIError]
) -> None:
    with neoforge.Client(token, base_url=BASE_URL, max_retries=0, headers=faults(status, times=1)) as client:
        with pytest.raises(error) as caught:
            client.api_keys.list()
        assert caught.value.status == status
        assert caught.value.code == "injected_fault"
        assert caught.value.request_id is not None
        assert len(sent) == 1
        client.api_keys.list()  # the fault fired once; the next call goes through


def test_max_retries_can_be_set_per_call(token: str, sent: List[httpx.Request]) -> None:
    with neoforge.Client(token, base_url=BASE_URL, max_retries=2, headers=faults(503, times=2)) as client:
        with pytest.raises(neoforge.InternalServerError):
            client.api_keys.list(max_retries=1)
    assert len(sent) == 2


def test_retries_stop_after_max_retries(token: str, sent: List[httpx.Request]) -> None:
    with neoforge.Client(token, base_url=BASE_URL, max_retries=2, headers=faults(503, times=5)) as client:
        with pytest.raises(neoforge.InternalServerError):
            client.api_keys.list()
    assert len(sent) == 3


def test_client_errors_are_not_retried(sent: List[httpx.Request]) -> None:
    with neoforge.Client("nf_test_" + "x" * 32, base_url=BASE_URL) as client:
        with pytest.raises(neoforge.AuthenticationError):
            client.api_keys.list()
    assert len(sent) == 1


def test_retry_after_is_honoured(token: str) -> None:
    with neoforge.Client(token, base_url=BASE_URL, headers=faults(429, times=1, retry_after=1)) as client:
        started = time.monotonic()
        client.api_keys.list()
        waited = time.monotonic() - started
    # Backoff alone would wait under 0.5 s before the first retry.
    assert waited >= 0.95


def test_retry_after_zero_retries_at_once(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The waits the client asks for, not the time they took: a loaded machine is slow.
    waits: List[float] = []
    monkeypatch.setattr(neoforge._http.time, "sleep", waits.append)
    with neoforge.Client(token, base_url=BASE_URL, headers=faults(429, times=1, retry_after=0)) as client:
        client.api_keys.list()
    assert waits == [0]
