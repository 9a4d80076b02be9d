"""Renders the permission table (docs/PERMISSIONS.md) from the REST route and Socket.IO event
declarations, so the table is what the code enforces. Like app.py it looks at the whole application,
so it imports both api/ and realtime/. Regenerate:
`.venv/bin/python -m backend.permission_table > docs/PERMISSIONS.md`."""

from __future__ import annotations

from backend.api import api
from backend.api.routing import describe_action
from backend.domain.meeting_states import Action, Role, Status, decide
from backend.realtime.server import Event, event_declarations

HEADER = """# Permissions

Generated from the route declarations in `backend/api/`, the Socket.IO event declarations in
`backend/realtime/server.py` and the meeting state machine in `backend/domain/meeting_states.py`
by `python -m backend.permission_table`; a test fails when
this file is out of date. Roles are held per meeting (chair, secretary, member, guest, bridge);
`admin` is global.
"""


def render() -> str:
    lines = [HEADER, "## REST operations", "", "| method | path | what | who may |", "|---|---|---|---|"]
    for op in api.operations:
        path = op.path.replace(":int", "")
        lines.append(f"| {op.method} | `{path}` | {op.summary} | {op.permission.describe()} |")
    lines += ["", "## Socket.IO events (namespace `/`)", "",
              "Every event needs an authenticated connection and answers with an ack `{\"ok\": ...}`.", "",
              "| event | who may |", "|---|---|"]
    lines += _events(event_declarations())
    lines += ["", "## Socket.IO events (namespace `/media`: the video bridge)", "", "| event | who may |", "|---|---|"]
    lines += _events(media_declarations())
    lines += ["", "## Meeting actions by role and state", "",
              "Each cell lists the actions a role may take while the meeting is in that state.", "",
              "| role | " + " | ".join(s.value for s in Status) + " |",
              "|---|" + "---|" * len(Status)]
    for role in Role:
        cells = [", ".join(a.value for a in Action if decide(role, status, a).allowed) or "—" for status in Status]
        lines.append(f"| {role.value} | " + " | ".join(cells) + " |")
    lines += ["", "A person who is not a participant may do nothing in a meeting (403). A refused action answers "
              "403 `forbidden` for a wrong role and 409 `invalid_state` for a wrong state.", ""]
    return "\n".join(lines)


def _events(events: dict[str, Event]) -> list[str]:
    lines = []
    for name, event in events.items():
        who = describe_action(event.action, named=False) if event.action else "any connected user"
        lines.append(f"| `{name}` | {who}{' ' + event.note if event.note else ''} |")
    return lines


def media_declarations() -> dict[str, Event]:
    from backend.config import Settings
    from backend.realtime.media import MediaNamespace
    from backend.services.auth import SessionCache
    from backend.services.bridge import Bridge
    from backend.services.context import Live
    from backend.services.events import Coalescer, NullBus
    from backend.services.presence import MemoryPresence

    placeholder = Live(db=None, bus=NullBus(), presence=MemoryPresence(), progress=Coalescer(1))  # type: ignore[arg-type]
    return MediaNamespace(placeholder, Settings(), SessionCache(None, Settings()),  # type: ignore[arg-type]
                          Bridge(None, Settings())).events  # type: ignore[arg-type]


if __name__ == "__main__":
    print(render(), end="")
