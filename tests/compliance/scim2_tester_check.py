"""Run the third-party SCIM checker scim2-tester against a running scimd.

Usage: scim2_tester_check.py BASE_URL TOKEN

Every check scim2-tester makes (discovery, CRUD, PATCH add/replace/remove on every
attribute) is printed with its status. The run fails when any check ends in ERROR or
CRITICAL, i.e. when scimd violates a mandatory RFC 7643/7644 requirement.
"""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

FAILING = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(client)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.name] = counts.get(result.status.name, 0) + 1
        line = f"{result.status.name:<10} {result.title}"
        if result.status in FAILING or result.status == Status.DEVIATION:
            line += f" -- {result.description} :: {result.reason}"
        print(line)
    failed = sum(counts.get(s.name, 0) for s in FAILING)
    passed = len(results) - failed
    print("scim2-tester:", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print(f"scim2-tester: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
