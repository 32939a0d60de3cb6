"""Runs the python-scim project's SCIM compliance checker (scim2-tester) against a live server.

Usage: scim_check.py BASE_URL TOKEN, where BASE_URL is the server's SCIM root (…/scim/v2) and
TOKEN a SCIM token of an organization. Prints every check and exits 1 when any failed (ERROR
or CRITICAL), or when a resource type's checks did not run at all.
"""

import sys
from collections import Counter

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

# Checks excluded on purpose, by title, each with the reason. Keep it empty unless a check
# cannot pass for a good reason.
EXCLUDED: dict[str, str] = {}

FAILED = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = httpx2.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    results = check_server(SyncSCIMClient(http))
    failures = 0
    ran = Counter()
    for r in results:
        excluded = r.title in EXCLUDED
        failed = r.status in FAILED and not excluded
        failures += failed
        if r.status not in FAILED and r.status != Status.SKIPPED:
            ran[r.resource_type or "discovery"] += 1
        mark = "EXCLUDED" if excluded and r.status in FAILED else r.status.name
        print(f"{mark:10} {r.resource_type or '-':6} {r.title}: {r.reason or ''}")
        if failed and r.data is not None:
            print(f"           data: {r.data!r}"[:2000])
    for kind in ("User", "Group"):
        if ran[kind] == 0:
            print(f"FAILED     no check of {kind} resources ran")
            failures += 1
    passed = sum(ran.values())
    print(f"scim2-tester: {passed} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
