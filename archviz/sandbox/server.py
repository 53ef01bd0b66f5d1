"""An in-process moto server on 127.0.0.1, reached over real HTTP through ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

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


class Sandbox:
    """Start with ``with Sandbox() as sb:``; ``sb.endpoint_url`` and ``sb.env()`` point clients at it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        _require_moto()
        self.host, self.port = host, port
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
        try:
            self._server = make_server(self.host, self.port, app, threaded=True, request_handler=QuietHandler)
        except OSError as exc:
            raise ArchvizError(f"cannot start the sandbox on {self.host}:{self.port}: {exc.strerror or exc}")
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="archviz-sandbox", daemon=True)
        self._thread.start()
        self._warm_up()
        return self

    def _warm_up(self) -> None:
        """moto builds each service's app on the first request it gets, and that draws from its
        random generator: ask each service once now, then forget it, so ids seeded later
        (``demo.seed``) are the same on a fresh server and on one that has served before."""
        import boto3

        kw = dict(endpoint_url=self.endpoint_url, aws_access_key_id=SANDBOX_ACCESS_KEY,
                  aws_secret_access_key=SANDBOX_SECRET_KEY, region_name=DEFAULT_REGION)
        boto3.client("ec2", **kw).describe_regions()
        boto3.client("elbv2", **kw).describe_load_balancers()
        boto3.client("sts", **kw).get_caller_identity()
        self.reset()

    @property
    def credentials(self) -> tuple[str, str]:
        return SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Environment for a process (the crawler, the AWS CLI) to talk to the sandbox. The user's
        AWS config and credentials files are masked so nothing real is read or reached."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": SANDBOX_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET_KEY,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

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
