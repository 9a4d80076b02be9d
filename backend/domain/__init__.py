"""Pure rules of e-Cabinet: no I/O, no imports of the rest of the backend."""
