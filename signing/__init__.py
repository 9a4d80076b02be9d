"""PAdES signing for e-Cabinet: a development PKI, PKCS#12 and PKCS#11 signers, Vietnamese
resolutions and minutes as PDF, signing at B-B to B-LTA, and verification. A library: it imports
nothing from `backend/`."""

from signing.errors import (
    CertificateUnusable,
    DocumentLocked,
    InvalidPdf,
    PkiError,
    ServiceUnavailable,
    SigningError,
    TokenUnavailable,
    WrongPassphrase,
)
from signing.keys import TokenConfig, file_signer, open_token_signer
from signing.pki import (
    CaPaths,
    CertificateInfo,
    check_can_sign,
    describe,
    import_pkcs12,
    init_ca,
    issue_certificate_for_public_key,
    issue_signing_certificate,
    load_ca,
    read_pkcs12,
)
from signing.render import (
    AgendaEntry,
    AttendanceRow,
    Issuer,
    MinutesDoc,
    OpinionAnswerLine,
    OpinionBallotDoc,
    OpinionQuestionReport,
    OpinionReportDoc,
    OtherOpinion,
    PollResult,
    RenderedPdf,
    ResolutionDoc,
    Signatory,
    SignatureSlot,
    SpeakerEntry,
    render_minutes,
    render_opinion_ballot,
    render_opinion_report,
    render_resolution,
    vietnamese_date,
)
from signing.sign import Appearance, PadesLevel, SignOptions, add_document_timestamp, sign_pdf
from signing.verify import DocumentTimestampReport, SignatureReport, VerificationReport, verify_pdf

__all__ = [
    "AgendaEntry", "Appearance", "AttendanceRow", "CaPaths", "CertificateInfo", "CertificateUnusable",
    "DocumentLocked", "DocumentTimestampReport", "InvalidPdf", "Issuer", "MinutesDoc", "OpinionAnswerLine",
    "OpinionBallotDoc", "OpinionQuestionReport", "OpinionReportDoc", "OtherOpinion", "PadesLevel", "PkiError",
    "PollResult", "RenderedPdf", "ResolutionDoc", "ServiceUnavailable", "SignOptions", "Signatory",
    "SignatureReport", "SignatureSlot", "SigningError", "SpeakerEntry", "TokenConfig", "TokenUnavailable",
    "VerificationReport", "WrongPassphrase", "add_document_timestamp", "check_can_sign", "describe", "file_signer",
    "import_pkcs12", "init_ca", "issue_certificate_for_public_key", "issue_signing_certificate", "load_ca",
    "open_token_signer", "read_pkcs12", "render_minutes", "render_opinion_ballot", "render_opinion_report",
    "render_resolution", "sign_pdf", "verify_pdf", "vietnamese_date",
]
