"""AWS requests and responses at the WSGI level, for the layers the sandbox puts before moto.

``Request`` reads what the sandbox needs from a request (the caller's access key, region and
service from the SigV4 scope; the action and parameters in the query or JSON protocol) and
puts the body back for moto. ``respond`` writes a response, and ``error_response`` an AWS error
in the request's own protocol. Used by ``archviz.sandbox.faults`` and
``archviz.sandbox.marketplace``.
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Callable
from urllib.parse import parse_qs

from archviz.sandbox.state import Fault


class Request:
    """The parts of an AWS request the middleware needs (body is read once and put back)."""

    def __init__(self, environ: dict):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(self.body)
        environ["CONTENT_LENGTH"] = str(len(self.body))
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/") if "Credential=" in auth else []
        self.access_key = scope[0] if scope else ""
        self.region = scope[2] if len(scope) > 2 else None
        self.service = scope[3] if len(scope) > 3 else None
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            self.protocol = "json"
            self.action = target.rsplit(".", 1)[-1]
            self.target = target
            try:
                self.params = json.loads(self.body or b"{}")
            except ValueError:
                self.params = {}
        else:
            self.protocol = "query"
            self.target = ""
            form = parse_qs(self.body.decode("utf-8", "replace")) if self.body else {}
            form.update(parse_qs(environ.get("QUERY_STRING", "")))
            self.form = {k: v[0] for k, v in form.items()}
            self.action = self.form.get("Action", "")
            self.params = {}

    @property
    def account(self) -> str:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(self.access_key)


def respond(start_response: Callable, status: int, body: bytes, content_type: str, extra=()) -> list[bytes]:
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                          ("x-amzn-RequestId", str(uuid.uuid4())), *extra])
    return [body]


def error_response(req: Request, fault: Fault, start_response: Callable) -> list[bytes]:
    """An AWS error in the request's own protocol (EC2 query, other query, or JSON)."""
    from xml.sax.saxutils import escape

    if req.protocol == "json":
        body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        return respond(start_response, fault.status, body, "application/x-amz-json-1.0",
                       [("x-amzn-ErrorType", fault.code)])
    code, message = escape(fault.code), escape(fault.message)
    if req.service == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>")
    else:
        body = (f'<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>'
                f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return respond(start_response, fault.status, body.encode(), "text/xml")
