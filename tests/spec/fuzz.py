"""The spec must match the server: schemathesis, every check, against a live server.

Signs up on the server at NEOFORGE_BASE_URL and runs `schemathesis run` on openapi/v1.json
with sandbox keys of that account (hooks.py), bounded in examples per operation and in time,
with the settings of schemathesis.toml. Extra arguments go to schemathesis (for example
`--include-path-regex /v1/meters`).
Exits with schemathesis's status: 0 only when no check failed on any operation.
"""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BASE = os.environ["NEOFORGE_BASE_URL"]
# Examples per operation and phase; fuzzing and stateful testing go on until MAX_TIME seconds
# have passed.
MAX_EXAMPLES = os.environ.get("NEOFORGE_FUZZ_EXAMPLES", "25")
MAX_TIME = os.environ.get("NEOFORGE_FUZZ_SECONDS", "180")


def post(path, body):
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def main():
    email = f"fuzz-{os.getpid()}@example.com"
    signup = post("/v1/users", {"email": email, "password": "correct horse battery staple"})
    env = os.environ | {
        "NEOFORGE_FUZZ_SESSION": signup["session"]["token"],
        "SCHEMATHESIS_HOOKS": "hooks",
        "PYTHONPATH": str(HERE),
    }
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        str(ROOT / "openapi/v1.json"),
        "--url",
        BASE,
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
    sys.exit(subprocess.call(command, cwd=HERE, env=env))


if __name__ == "__main__":
    main()
