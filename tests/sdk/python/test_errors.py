"""Error answers become typed errors carrying the problem body and the request id."""

from __future__ import annotations

import socket

import pytest

import neoforge
from conftest import BASE_URL


def test_an_unknown_api_key_is_an_authentication_error() -> None:
    with neoforge.Client("nf_test_" + "x" * 32, base_url=BASE_URL) as client:
        with pytest.raises(neoforge.AuthenticationError) as caught:
            client.api_keys.list()
    error = caught.value
    assert isinstance(error, neoforge.APIError) and isinstance(error, neoforge.NeoForgeError)
    assert error.status == 401
    assert error.code == "invalid_api_key"
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert error.headers["x-request-id"] == error.request_id
    assert error.problem["code"] == "invalid_api_key"
    assert error.problem["request_id"] == error.request_id
    assert error.message == error.problem["detail"]


def test_an_unknown_id_is_not_found(client: neoforge.Client) -> None:
    with pytest.raises(neoforge.NotFoundError) as caught:
        client.api_keys.get("key_" + "0" * 32)
    assert caught.value.status == 404
    assert caught.value.code == "resource_not_found"
    assert caught.value.request_id == caught.value.problem["request_id"]


def test_an_invalid_field_is_a_bad_request_naming_the_field(client: neoforge.Client) -> None:
    with pytest.raises(neoforge.BadRequestError) as caught:
        client.api_keys.create(name="ci", scopes=["no_such_permission"])
    assert caught.value.code == "validation_error"
    assert [e["field"] for e in caught.value.problem["errors"]] == ["scopes[0]"]


def test_a_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with neoforge.Client("key", base_url=f"http://127.0.0.1:{port}", max_retries=0) as client:
        with pytest.raises(neoforge.APIConnectionError) as caught:
            client.health.live()
    assert not isinstance(caught.value, neoforge.APITimeoutError)


def test_a_silent_server_is_a_timeout() -> None:
    # A listening socket that never answers: connecting succeeds, the response never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with neoforge.Client("key", base_url=url, timeout=0.2, max_retries=0) as client:
            with pytest.raises(neoforge.APITimeoutError):
                client.health.live()


def test_a_call_can_shorten_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with neoforge.Client("key", base_url=url, timeout=60.0, max_retries=0) as client:
            with pytest.raises(neoforge.APITimeoutError):
                client.health.live(timeout=0.2)
