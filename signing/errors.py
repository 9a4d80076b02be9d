"""One error tree for the signing package, rooted in ValueError (as pyHanko does).

Each error carries a stable `code` that the backend turns into its JSON error body."""

from __future__ import annotations


class SigningError(ValueError):
    """Something about a key, a certificate, a token or a PDF prevents signing or verifying."""

    code = "signing_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidPdf(SigningError):
    """Not a PDF, or one pyHanko/pypdf cannot read."""

    code = "invalid_pdf"


class WrongPassphrase(SigningError):
    """The PKCS#12 passphrase or the token PIN is wrong."""

    code = "wrong_passphrase"


class CertificateUnusable(SigningError):
    """The certificate may not sign now: no signing key usage, expired, not yet valid, no matching key."""

    code = "certificate_unusable"


class TokenUnavailable(SigningError):
    """The PKCS#11 module, token, key or certificate is not there."""

    code = "token_unavailable"


class DocumentLocked(SigningError):
    """The PDF's certification or field locks forbid this signature, or the field is already signed."""

    code = "document_locked"


class ServiceUnavailable(SigningError):
    """The timestamp authority or a revocation service did not answer (nothing was written)."""

    code = "service_unavailable"


class PkiError(SigningError):
    """A CA operation failed (missing CA, bad request to issue)."""

    code = "pki_error"
