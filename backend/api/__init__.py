"""REST routes. Importing this package registers every route module on `api`."""

from backend.api import auth, bridge, documents, meetings, opinions, records, system, users  # noqa: F401  (registration by import)
from backend.api.routing import api

__all__ = ["api"]
