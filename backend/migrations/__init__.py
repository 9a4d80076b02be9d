"""Alembic migrations; `ecabinet migrate` (and start-up) applies them."""
