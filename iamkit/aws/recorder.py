"""Which IAM actions a collection really uses: a session hook that records every API call, and the
kit's own least-privilege policy (``iamkit/policies/investigator.json``) to check them against."""

from __future__ import annotations

import json
import threading
from importlib import resources
from typing import Any

from iamkit.aws.calls import action_name


class CallRecorder:
    """A hook for ``AwsContext.hooks``: records ``(account_id, iam action)`` of every call attempted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, client: Any, account_id: str) -> None:
        service = client.meta.service_model.service_name

        def record(model: Any = None, **_: Any) -> None:
            with self._lock:
                self.calls.append((account_id, action_name(service, model.name)))

        client.meta.events.register("before-parameter-build", record)

    @property
    def actions(self) -> set[str]:
        """The distinct IAM actions seen."""
        with self._lock:
            return {a for _, a in self.calls}


def investigator_policy() -> dict[str, Any]:
    """The read-only policy the collectors need (shipped as ``iamkit/policies/investigator.json``)."""
    return json.loads(resources.files("iamkit").joinpath("policies/investigator.json").read_text())


def policy_actions(doc: dict[str, Any]) -> set[str]:
    """Every action an Allow statement of ``doc`` names."""
    out: set[str] = set()
    for st in doc.get("Statement", []):
        if st.get("Effect") == "Allow":
            acts = st.get("Action", [])
            out.update([acts] if isinstance(acts, str) else acts)
    return out
