"""Signing through a real PKCS#11 token: SoftHSM2 with a private configuration (its own token
directory), keys generated on the token by OpenSC's pkcs11-tool, certificates from our development
CA written back onto it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import signing as S
from tests.conftest import unavailable
from tests.integration.signing.conftest import make_pdf

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN, SO_PIN, LABEL = "123456", "12345678", "ecabinet-test"
CHAIN: list[bytes] = []  # the development CA's issuing certificate, set by the fixture


@dataclass
class Token:
    ca: S.CaPaths
    label: str = LABEL


def _run(*argv: str, env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    for tool in ("softhsm2-util", "pkcs11-tool"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (make installs softhsm2 and opensc)")
    if not Path(MODULE).exists():
        unavailable(f"no SoftHSM2 module at {MODULE}")
    work = tmp_path_factory.mktemp("softhsm")
    (work / "tokens").mkdir()
    conf = work / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {work / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # the module reads it when it is loaded in this process
    env = {**os.environ}
    _run("softhsm2-util", "--init-token", "--free", "--label", LABEL, "--so-pin", SO_PIN, "--pin", PIN, env=env)
    ca = S.init_ca(work / "ca")
    CHAIN[:] = [ca.issuing_cert.read_bytes()]
    for key_id, label, key_type, name in (("01", "signer-rsa", "rsa:2048", "Nguyễn Văn An"),
                                          ("02", "signer-ec", "EC:prime256v1", "Trần Thị Bình")):
        _run("pkcs11-tool", "--module", MODULE, "--token-label", LABEL, "--login", "--pin", PIN, "--keypairgen",
             "--key-type", key_type, "--label", label, "--id", key_id, env=env)
        pub_der = work / f"{label}.pub.der"
        _run("pkcs11-tool", "--module", MODULE, "--token-label", LABEL, "--read-object", "--type", "pubkey",
             "--label", label, "--output-file", str(pub_der), env=env)
        public_key = serialization.load_der_public_key(pub_der.read_bytes())
        cert = S.issue_certificate_for_public_key(ca, public_key, common_name=name, title="Bộ trưởng")
        cert_der = work / f"{label}.crt.der"
        cert_der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        _run("pkcs11-tool", "--module", MODULE, "--token-label", LABEL, "--login", "--pin", PIN, "--write-object",
             str(cert_der), "--type", "cert", "--label", label, "--id", key_id, env=env)
    yield Token(ca)
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def _config(label: str, **kw: str | None) -> S.TokenConfig:
    base: dict[str, object] = {"module_path": MODULE, "token_label": LABEL, "key_label": label,
                               "cert_label": label, "user_pin": PIN, "chain": (CHAIN[0],)}
    return S.TokenConfig(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("label", "name"), [("signer-rsa", "Nguyễn Văn An"), ("signer-ec", "Trần Thị Bình")])
async def test_signing_through_the_token(token: Token, label: str, name: str) -> None:
    with S.open_token_signer(_config(label)) as signer:
        cert = x509.load_der_x509_certificate(signer.signing_cert.dump())
        assert S.describe(cert).common_name == name
        signed = await S.sign_pdf(make_pdf(), signer, S.SignOptions(
            field_name="chair", box=(100, 100, 300, 170), appearance=S.Appearance(name, "Bộ trưởng")))
    report = await S.verify_pdf(signed, trust_roots=[token.ca.root_cert.read_bytes()])
    assert report.valid and report.signatures[0].signer_common_name == name, report.signatures[0].reasons


def test_token_errors_are_clear(token: Token) -> None:
    cases: list[tuple[S.TokenConfig, type[Exception]]] = [
        (_config("signer-rsa", user_pin="000000"), S.WrongPassphrase),
        (_config("signer-rsa", token_label="no-such-token"), S.TokenUnavailable),
        (_config("signer-rsa", module_path="/nonexistent/libpkcs11.so"), S.TokenUnavailable),
        (_config("no-such-key", cert_label="no-such-key"), S.TokenUnavailable),
    ]
    for config, error in cases:
        with pytest.raises(error):
            with S.open_token_signer(config):
                pass
