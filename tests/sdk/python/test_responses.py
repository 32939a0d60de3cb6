"""The response behind every result is reachable: its status, headers and request id."""

from __future__ import annotations

from typing import List

import httpx
import pytest

import neoforge
from conftest import BASE_URL


def test_returned_objects_carry_their_response(client: neoforge.Client) -> None:
    created = client.api_keys.create(name="ci")
    meta = created.last_response
    assert meta is not None
    assert meta.status_code == 201
    assert meta.request_id is not None and meta.request_id.startswith("req_")
    assert meta.headers["x-request-id"] == meta.request_id

    fetched = client.api_keys.get(created.id)
    assert (fetched.id, fetched.name) == (created.id, "ci")
    assert fetched.last_response is not None
    assert fetched.last_response.status_code == 200
    assert fetched.last_response.request_id not in (None, meta.request_id)


def test_each_item_of_a_list_carries_the_response(client: neoforge.Client) -> None:
    roles = client.roles.list()
    assert {r.name for r in roles} >= {"owner", "admin"}
    request_ids = {r.last_response.request_id if r.last_response else None for r in roles}
    assert len(request_ids) == 1 and None not in request_ids


def test_a_call_without_a_body_returns_its_response(token: str) -> None:
    with neoforge.Client(token, base_url=BASE_URL) as client:
        response = client.sessions.delete()
        assert isinstance(response, neoforge.Response)
        assert response.status_code == 204
        assert response.request_id is not None and response.request_id.startswith("req_")
        with pytest.raises(neoforge.AuthenticationError) as caught:
            client.users.me()
    assert caught.value.code == "invalid_session"


def test_requests_carry_the_key_and_the_sdk_version(token: str, sent: List[httpx.Request]) -> None:
    with neoforge.Client(token, base_url=BASE_URL) as client:
        client.api_keys.create(name="ci")
    assert sent[0].headers["authorization"] == f"Bearer {token}"
    assert sent[0].headers["user-agent"] == f"neoforge-python/{neoforge.__version__}"
    assert sent[0].headers["content-type"] == "application/json"
