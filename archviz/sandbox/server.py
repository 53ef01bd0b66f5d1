"""An in-process moto server on 127.0.0.1, reached over real HTTP through ``AWS_ENDPOINT_URL``.

With ``Sandbox(tls=True)`` it serves HTTPS instead, with a certificate from a throwaway CA made
at start (``sb.ca_bundle``), as a company's TLS-inspecting proxy does: clients must be given
the CA (``verify=``, ``ca_bundle`` in a profile, ``AWS_CA_BUNDLE``) to reach it.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archviz.errors import ArchvizError

# Credentials for the sandbox only: moto accepts any; these reach nothing real.
SANDBOX_ACCESS_KEY = "AKIASANDBOXEXAMPLE01"
SANDBOX_SECRET_KEY = "sandbox-secret-not-a-real-key"
DEFAULT_REGION = "us-east-1"


def _require_moto() -> None:
    try:
        import moto  # noqa: F401
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: F401
    except ImportError:
        raise ArchvizError("the sandbox needs moto: pip install 'archviz[demo]'")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
                 issuer_key: ec.EllipticCurvePrivateKey, *extensions: x509.ExtensionType) -> x509.Certificate:
    """A day's certificate for ``key``, signed by ``issuer`` (None: self-signed), with the key
    identifiers strict verifiers (Python 3.13's default ``VERIFY_X509_STRICT``) insist on."""
    now = datetime.now(timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(issuer.subject if issuer else _name(subject))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=isinstance(extension, x509.BasicConstraints))
    return builder.sign(issuer_key, hashes.SHA256())


def _write_tls_files(folder: Path) -> ssl.SSLContext:
    """A throwaway CA (``folder/ca.pem``) and a server certificate it signed for 127.0.0.1 and
    localhost (``server.pem``, ``server.key``); returns the server's TLS context."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("archviz sandbox CA", ca_key, None, ca_key, x509.BasicConstraints(ca=True, path_length=0),
                      x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                                    key_agreement=False, encipher_only=False, decipher_only=False))
    server = _certificate("localhost", server_key, ca, ca_key, x509.BasicConstraints(ca=False, path_length=None),
                          x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                       x509.DNSName("localhost")]),
                          x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    return context


class Sandbox:
    """Start with ``with Sandbox() as sb:``; ``sb.endpoint_url`` and ``sb.env()`` point clients at it.
    ``tls=True`` serves HTTPS (``https://`` endpoint) with a certificate from the CA in ``sb.ca_bundle``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: bool = False):
        _require_moto()
        self.host, self.port, self.tls = host, port, tls
        self.ca_bundle: str | None = None  # with tls: the CA's PEM file, for as long as the sandbox runs
        self._tls_dir: str | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> "Sandbox":
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log on stderr
                pass

        from archviz.sandbox.ec2 import install
        from archviz.sandbox.faults import SandboxApp

        install()
        app = SandboxApp(DomainDispatcherApplication(create_backend_app))
        ssl_context = self._make_tls() if self.tls else None
        try:
            self._server = make_server(self.host, self.port, app, threaded=True, request_handler=QuietHandler,
                                       ssl_context=ssl_context)
        except OSError as exc:
            self.stop()  # the TLS files
            raise ArchvizError(f"cannot start the sandbox on {self.host}:{self.port}: {exc.strerror or exc}")
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="archviz-sandbox", daemon=True)
        self._thread.start()
        self._warm_up()
        return self

    def _make_tls(self) -> ssl.SSLContext:
        self._tls_dir = tempfile.mkdtemp(prefix="archviz-sandbox-tls-")
        context = _write_tls_files(Path(self._tls_dir))
        self.ca_bundle = os.path.join(self._tls_dir, "ca.pem")
        return context

    def _warm_up(self) -> None:
        """moto builds each service's app on the first request it gets, and that draws from its
        random generator: ask each service once now, then forget it, so ids seeded later
        (``demo.seed``) are the same on a fresh server and on one that has served before."""
        import boto3

        kw = dict(endpoint_url=self.endpoint_url, aws_access_key_id=SANDBOX_ACCESS_KEY,
                  aws_secret_access_key=SANDBOX_SECRET_KEY, region_name=DEFAULT_REGION, verify=self.ca_bundle)
        boto3.client("ec2", **kw).describe_regions()
        boto3.client("elbv2", **kw).describe_load_balancers()
        boto3.client("sts", **kw).get_caller_identity()
        self.reset()

    @property
    def credentials(self) -> tuple[str, str]:
        return SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY

    @property
    def endpoint_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def env(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Environment for a process (the crawler, the AWS CLI) to talk to the sandbox. The user's
        AWS config and credentials files are masked so nothing real is read or reached; with
        ``tls``, ``AWS_CA_BUNDLE`` names the sandbox's CA."""
        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": SANDBOX_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET_KEY,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if self.ca_bundle:
            env["AWS_CA_BUNDLE"] = self.ca_bundle
        return env

    @contextmanager
    def activated(self, region: str = DEFAULT_REGION) -> Iterator[None]:
        """Point this process's AWS clients at the sandbox (every other AWS_* variable is hidden)."""
        saved = dict(os.environ)
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[key]
        os.environ.update(self.env(region))
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = self.ca_bundle = None

    def reset(self) -> None:
        """Forget every resource (moto's state and the sandbox's own, ``archviz.sandbox.state``)."""
        from moto.moto_api._internal.models import moto_api_backend

        from archviz.sandbox.state import STATE

        moto_api_backend.reset()
        STATE.reset()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
