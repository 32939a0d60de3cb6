"""Every POST carries an Idempotency-Key: one per call, kept across its retries."""

from __future__ import annotations

import uuid
from typing import List

import httpx
import pytest

import neoforge
from conftest import BASE_URL, faults, unique


def test_the_same_key_replays_the_first_answer(client: neoforge.Client) -> None:
    key = unique("idem")
    first = client.api_keys.create(name="ci", idempotency_key=key)
    again = client.api_keys.create(name="ci", idempotency_key=key)
    assert again.id == first.id
    assert again.secret == first.secret
    assert again.last_response is not None
    assert again.last_response.headers.get("idempotent-replayed") == "true"
    assert [k.id for k in client.api_keys.list_auto_paging()] == [first.id]


def test_the_same_key_with_another_body_is_refused(client: neoforge.Client) -> None:
    key = unique("idem")
    client.api_keys.create(name="ci", idempotency_key=key)
    with pytest.raises(neoforge.UnprocessableEntityError) as caught:
        client.api_keys.create(name="deploys", idempotency_key=key)
    assert caught.value.status == 422
    assert caught.value.code == "idempotency_key_reused"
    assert caught.value.request_id is not None


def test_each_call_has_its_own_key_which_its_retries_reuse(token: str, sent: List[httpx.Request]) -> None:
    with neoforge.Client(token, base_url=BASE_URL, headers=faults(503, times=2)) as client:
        first = client.api_keys.create(name="first")
        second = client.api_keys.create(name="second")
        keys = [r.headers["idempotency-key"] for r in sent]
        # The first call failed twice, so three attempts; the second went through at once.
        assert len(keys) == 4
        assert keys[0] == keys[1] == keys[2] != keys[3]
        assert uuid.UUID(keys[0]).version == 4
        assert first.id != second.id
        # The retried POST took effect once.
        assert sorted(k.name for k in client.api_keys.list_auto_paging()) == ["first", "second"]


def test_a_given_key_is_sent_and_only_posts_carry_one(client: neoforge.Client, sent: List[httpx.Request]) -> None:
    key = unique("mine")
    client.api_keys.create(name="ci", idempotency_key=key)
    client.api_keys.list()
    assert [r.headers.get("idempotency-key") for r in sent] == [key, None]
