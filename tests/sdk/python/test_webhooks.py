"""neoforge.Webhook accepts what the Standard Webhooks reference signs, and nothing else."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timedelta, timezone
from typing import Dict, Optional

import pytest
import standardwebhooks

import neoforge
from conftest import unique

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
BODY = json.dumps({"type": "api_key.created", "data": {"id": "key_123"}})


def signed(body: str, at: Optional[datetime] = None, secret: str = SECRET) -> Dict[str, str]:
    """The headers the reference implementation sends with `body`."""
    at = at or datetime.now(timezone.utc)
    msg_id = unique("msg")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": standardwebhooks.Webhook(secret).sign(msg_id, at, body),
    }


def test_a_good_signature_verifies_and_returns_the_payload() -> None:
    headers = signed(BODY)
    assert neoforge.Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)
    assert neoforge.Webhook(SECRET).verify(BODY.encode(), {k.title(): v for k, v in headers.items()})


def test_any_matching_signature_will_do() -> None:
    headers = signed(BODY)
    headers["webhook-signature"] = "v1,bm90IGl0 " + headers["webhook-signature"]
    assert neoforge.Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)


def test_a_tampered_body_is_rejected() -> None:
    headers = signed(BODY)
    with pytest.raises(neoforge.WebhookVerificationError):
        neoforge.Webhook(SECRET).verify(BODY.replace("key_123", "key_666"), headers)


def test_another_secret_is_rejected() -> None:
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(neoforge.WebhookVerificationError):
        neoforge.Webhook(SECRET).verify(BODY, signed(BODY, secret=other))


@pytest.mark.parametrize("offset", [timedelta(minutes=-10), timedelta(minutes=10)])
def test_a_timestamp_beyond_the_tolerance_is_rejected(offset: timedelta) -> None:
    headers = signed(BODY, at=datetime.now(timezone.utc) + offset)
    with pytest.raises(neoforge.WebhookVerificationError, match="tolerance"):
        neoforge.Webhook(SECRET).verify(BODY, headers)
    assert neoforge.Webhook(SECRET, tolerance=timedelta(minutes=15)).verify(BODY, headers) == json.loads(BODY)


def test_missing_headers_are_rejected() -> None:
    headers = signed(BODY)
    del headers["webhook-signature"]
    with pytest.raises(neoforge.WebhookVerificationError):
        neoforge.Webhook(SECRET).verify(BODY, headers)
