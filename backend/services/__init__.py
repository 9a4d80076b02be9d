"""Use cases: load, check permission, apply a domain rule, persist, write the audit entry."""
