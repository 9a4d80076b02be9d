"""One error tree for the exchange package, rooted in ValueError (as signing/ does).

Each error carries a stable `code` that the backend turns into its JSON error body; `message` is for people."""

from __future__ import annotations


class ExchangeError(ValueError):
    """An edXML package cannot be built or is refused on reading."""

    code = "exchange_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class TooLarge(ExchangeError):
    """The package (or one attachment) is bigger than the limit; nothing was parsed."""

    code = "too_large"


class ForbiddenConstruct(ExchangeError):
    """A DOCTYPE, an entity declaration or reference, or a non-UTF-8 encoding: never accepted."""

    code = "forbidden_construct"


class MalformedXml(ExchangeError):
    """Not well-formed XML."""

    code = "malformed_xml"


class WrongNamespace(ExchangeError):
    """The root is not an edXML element in the QCVN 102:2016 namespace."""

    code = "wrong_namespace"


class SchemaInvalid(ExchangeError):
    """Well-formed, but the package breaks exchange/schema/edxml.xsd."""

    code = "schema_invalid"


class InvalidField(ExchangeError):
    """A field breaks a rule of exchange/fields.py (agency id, date, length, document id)."""

    code = "invalid_field"


class UnknownAgency(ExchangeError):
    """A well-formed agency identifier that is not in the caller's directory."""

    code = "unknown_agency"


class BadSignature(ExchangeError):
    """Unsigned, the XML signature does not verify, or its certificate does not chain to a trust anchor."""

    code = "bad_signature"


class ManifestMismatch(ExchangeError):
    """The attachments carried do not match the manifest's references (count, id, name or type)."""

    code = "manifest_mismatch"
