"""The spec must match the server: schemathesis, every check, against a live server.

Signs up on the server at BASE_URL, makes a sandbox API key, and runs `schemathesis run` on
openapi/v1.json with that key, bounded in examples per operation and in time. Extra
arguments go to schemathesis (for example `--include-path-regex /v1/meters`).
Exits with schemathesis's status: 0 only when no check failed on any operation.
"""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = os.environ["NEOFORGE_BASE_URL"]
# Per operation; the whole run also stops after MAX_TIME seconds.
MAX_EXAMPLES = os.environ.get("NEOFORGE_FUZZ_EXAMPLES", "25")
MAX_TIME = os.environ.get("NEOFORGE_FUZZ_SECONDS", "600")


def post(path, body, token=None):
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def main():
    email = f"fuzz-{os.getpid()}@example.com"
    signup = post("/v1/users", {"email": email, "password": "correct horse battery staple"})
    key = post("/v1/api_keys", {"name": "schemathesis"}, signup["session"]["token"])
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        str(ROOT / "openapi/v1.json"),
        "--url",
        BASE,
        "--header",
        f"Authorization: Bearer {key['secret']}",
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--max-time",
        MAX_TIME,
        "--seed",
        "1",
        "--workers",
        "2",
        "--no-color",
        *sys.argv[1:],
    ]
    sys.exit(subprocess.call(command, cwd=ROOT))


if __name__ == "__main__":
    main()
