"""The async client: same API, awaited; auto-pagers are async iterators."""

from __future__ import annotations

from typing import List

import httpx
import pytest

import neoforge
from conftest import BASE_URL, faults, unique


@pytest.mark.asyncio
async def test_an_unknown_api_key_is_an_authentication_error() -> None:
    async with neoforge.AsyncClient("nf_test_" + "x" * 32, base_url=BASE_URL) as client:
        with pytest.raises(neoforge.AuthenticationError) as caught:
            await client.api_keys.list()
    assert caught.value.code == "invalid_api_key"
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")


@pytest.mark.asyncio
async def test_injected_failures_are_retried(token: str, sent: List[httpx.Request]) -> None:
    async with neoforge.AsyncClient(token, base_url=BASE_URL, headers=faults(503, times=2)) as client:
        created = await client.api_keys.create(name="ci")
    assert len(sent) == 3
    assert len({r.headers["idempotency-key"] for r in sent}) == 1
    assert created.last_response is not None and created.last_response.status_code == 201


@pytest.mark.asyncio
async def test_without_retries_the_failure_surfaces_typed(token: str) -> None:
    async with neoforge.AsyncClient(token, base_url=BASE_URL, headers=faults(429, times=1)) as client:
        with pytest.raises(neoforge.RateLimitError) as caught:
            await client.api_keys.list(max_retries=0)
    assert caught.value.status == 429 and caught.value.code == "injected_fault"


@pytest.mark.asyncio
async def test_auto_paging_yields_every_item_once(async_client: neoforge.AsyncClient) -> None:
    created = {(await async_client.api_keys.create(name=f"key {i}")).id for i in range(5)}
    seen = [key.id async for key in async_client.api_keys.list_auto_paging(limit=2)]
    assert sorted(seen) == sorted(created)


@pytest.mark.asyncio
async def test_the_same_idempotency_key_replays(async_client: neoforge.AsyncClient) -> None:
    key = unique("idem")
    first = await async_client.api_keys.create(name="ci", idempotency_key=key)
    again = await async_client.api_keys.create(name="ci", idempotency_key=key)
    assert again.id == first.id
