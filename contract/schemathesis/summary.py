"""Summarises a Schemathesis NDJSON report: requests sent, operations, response statuses, and
the failed checks grouped by kind, with one example each (request, status, body).

    python summary.py REPORT.ndjson
"""

from __future__ import annotations

import base64
import collections
import json
import sys
from typing import Any


def _body(content: Any) -> str:
    if isinstance(content, dict) and "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    return "" if content is None else str(content)


def main(path: str) -> int:
    requests = 0
    operations: set[str] = set()
    statuses: collections.Counter[str] = collections.Counter()
    groups: dict[str, dict[tuple[str, str], str]] = collections.defaultdict(dict)
    with open(path, encoding="utf-8") as report:
        for line in report:
            ((kind, event),) = json.loads(line).items()
            if kind != "ScenarioFinished":
                continue
            recorder = event.get("recorder", {})
            interactions = recorder.get("interactions", {})
            for interaction in interactions.values():
                requests += 1
                response = interaction.get("response") or {}
                statuses[str(response.get("status_code", "none"))] += 1
            if interactions and recorder.get("label") != "Stateful tests":
                operations.add(recorder.get("label", "?"))
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = check.get("failure_info", {}).get("failure", {})
                    group = f"{failure.get('code', '?')} {failure.get('title', check['name'])} ({check['name']})"
                    message = " ".join(str(failure.get("message", "")).split())
                    operation = failure.get("operation") or recorder.get("label", "?")
                    key = (operation, message)
                    if key in groups[group]:
                        continue
                    interaction = interactions.get(case_id) or {}
                    request = interaction.get("request") or {}
                    response = interaction.get("response") or {}
                    example = f"{operation}"
                    if request:
                        example = f"{request.get('method', '')} {request.get('uri', '')}"
                        body = _body(request.get("body"))
                        if body:
                            example += f" body {body[:80]!r}"
                    if response:
                        example += f" -> {response.get('status_code')} {_body(response.get('content'))[:120]}"
                    if message:
                        example += f" [{message[:120]}]"
                    groups[group][key] = example
    failed = sum(len(g) for g in groups.values())
    print(f"    requests: {requests}, operations: {len(operations)}, failed checks: {failed}")
    print("    statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    for group, found in sorted(groups.items()):
        operations_hit = len({operation for operation, _ in found})
        print(f"    {group}: {len(found)} on {operations_hit} operations")
        print(f"      e.g. {next(iter(found.values()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
