"""Follow-up of the tasks a resolution assigns to agencies (issue 17 point 6): written down on the draft
(drafting), sent after publication as one signed edXML package per task (sending), followed through the
status packages the agencies send back (following), and shown to the Government Office and to each
meeting (dashboard). The shape of a task as the API shows it lives in `views`."""

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from backend.services.exchange import tracking
from backend.services.tasks.following import apply_status

__all__ = ["apply_status"]


async def _on_status(s: AsyncSession, document_id: str, agency_code: str, code: str, at: datetime) -> None:
    """A status package about a document we sent: when it is one of our tasks, its delivery follows it."""
    await apply_status(s, document_id, agency_code, code, at)


if _on_status not in tracking.LISTENERS:
    tracking.LISTENERS.append(_on_status)
