"""REST routes. Importing this package registers every route module on `api`."""

from backend.api import (  # noqa: F401  (registration by import)
    auth,
    bridge,
    devices,
    documents,
    exchange,
    meetings,
    notifications,
    opinions,
    records,
    system,
    tasks,
    users,
)
from backend.api.routing import api

__all__ = ["api"]
