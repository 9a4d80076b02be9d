"""PDF tools for meeting documents: no database, no I/O beyond bytes in and bytes out."""
