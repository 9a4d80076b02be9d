from __future__ import annotations

from pathlib import Path

from backend.api import api
from backend.api.routing import Access
from backend.permission_table import render

ROOT = Path(__file__).resolve().parents[3]


def test_docs_permission_table_is_generated_from_the_current_declarations() -> None:
    committed = (ROOT / "docs" / "PERMISSIONS.md").read_text(encoding="utf-8")
    assert committed == render(), "regenerate: .venv/bin/python -m backend.permission_table > docs/PERMISSIONS.md"


def test_every_meeting_route_declares_a_meeting_permission() -> None:
    for op in api.operations:
        if op.path.startswith("/api/meetings/{meeting_id"):
            assert op.permission.meeting_actions, f"{op.method} {op.path} declares no meeting action"


def test_only_login_routes_health_and_readiness_are_public() -> None:
    public = {(op.method, op.path) for op in api.operations if op.permission.access is Access.PUBLIC}
    # Verifying a signed PDF is public on purpose: anyone who receives a resolution may check it. Readiness
    # is for load balancers, which do not log in; it says only which check fails. A revoked device confirms
    # its wipe without a session (it has none left): its device cookie names it. The exchange gateway is no
    # user either: it delivers packages with a secret of its own, checked by the route's gate.
    assert public == {("POST", "/api/auth/login"), ("POST", "/api/auth/tokens"), ("GET", "/api/health"),
                      ("GET", "/api/ready"), ("POST", "/api/verify"), ("POST", "/api/devices/wiped"),
                      ("POST", "/api/exchange/inbound")}
    assert {(op.method, op.path) for op in api.operations if op.gate is not None} == {("POST", "/api/exchange/inbound")}


def test_operation_names_are_unique() -> None:
    names = [op.name for op in api.operations]
    assert len(names) == len(set(names))


def test_every_socket_event_but_the_leaving_ones_declares_the_meeting_action_it_needs() -> None:
    from backend.realtime.server import event_declarations

    events = event_declarations()
    assert {name for name, e in events.items() if e.action is None} == {"meeting.leave", "document.close"}
    assert all("." in name for name in events)
