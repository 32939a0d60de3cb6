"""schemathesis hooks for tests/spec/fuzz.py (loaded through SCHEMATHESIS_HOOKS).

The run revokes and rolls API keys, its own among them, so its credential is a sandbox key
minted from the account's session, which the run never sees, and minted again whenever an
answer is 401.
"""

import json
import os
import urllib.request
from datetime import datetime, timezone

import schemathesis
from hypothesis import strategies as st

BASE = os.environ["NEOFORGE_BASE_URL"]
SESSION = os.environ["NEOFORGE_FUZZ_SESSION"]


def mint_key():
    request = urllib.request.Request(
        BASE + "/v1/api_keys",
        data=json.dumps({"name": "schemathesis"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SESSION}"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)["secret"]


@schemathesis.auth(retry_on=[401])
class SandboxKey:
    def get(self, case, context):
        return mint_key()

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# Times the API accepts: 1970 to before 2200 (openapi/v1.json's description says so; JSON
# Schema has no keyword for it).
schemathesis.openapi.format(
    "date-time",
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(timezone.utc)
    ).map(lambda t: t.isoformat().replace("+00:00", "Z")),
)
