"""Follow-up of the tasks a resolution assigns to agencies (issue 17 point 6): written down on the draft
(drafting), sent after publication as one signed edXML package per task (sending), followed through the
status packages the agencies send back (following), and shown to the Government Office and to each
meeting (dashboard). The shape of a task as the API shows it lives in `views`."""

from backend.services.tasks.following import apply_status

__all__ = ["apply_status"]
