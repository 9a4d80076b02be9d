"""e-Cabinet backend: Starlette app, REST API, realtime server, services and domain rules."""
