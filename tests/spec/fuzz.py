"""The spec must match the server: schemathesis, every check, against a live server.

Signs up on the server at NEOFORGE_BASE_URL and runs `schemathesis run` on openapi/v1.json
with sandbox keys of that account (hooks.py), bounded in examples per operation, with the
settings of schemathesis.toml. Extra arguments go to schemathesis (for example
`--include-path-regex /v1/meters`).
Becomes schemathesis (exec), so its status is this script's: 0 only when no check failed on
any operation; and stopping this process stops the fuzzing.
"""

import json
import os
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BASE = os.environ["NEOFORGE_BASE_URL"]
# Examples per operation and phase, from a fixed seed: the same budget of cases however fast
# the machine is (the stateful phase's count still varies a little with how the two workers
# interleave). Bounded by time instead, a faster machine would draw more cases than a slower
# one and a run's verdict would depend on the machine. NEOFORGE_FUZZ_SECONDS adds a time
# budget for longer exploratory sessions, where fuzzing goes on until it is spent.
MAX_EXAMPLES = os.environ.get("NEOFORGE_FUZZ_EXAMPLES", "100")
MAX_TIME = os.environ.get("NEOFORGE_FUZZ_SECONDS")


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
        *(["--max-time", MAX_TIME] if MAX_TIME else []),
        "--seed",
        "1",
        "--workers",
        "2",
        "--no-color",
        *sys.argv[1:],
    ]
    os.chdir(HERE)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
