# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An ASGI middleware for vLLM (``vllm serve --middleware openclaw_vllm_auth.RequireKey``) that
asks for the API key on EVERY route but /health and /metrics.

vLLM's own ``--api-key`` check guards only paths under /v1, /v2, /inference and /cohere
(``entrypoints/serve/middleware/authenticate.py`` in 0.32 and 0.33): /invocations and
/generative_scoring run the model without it, and /tokenize, /detokenize, /scale_elastic_ep,
/ping, /load, /version, /docs and /openapi.json answer too. Middlewares given with
``--middleware`` wrap vLLM's own (Starlette adds the last one outermost), so this one sees every
request first, websockets included. The key is VLLM_API_KEY from the unit's environment file,
the same one vLLM reads; a request is let through with ``Authorization: Bearer <key>``.
Pure ASGI, standard library only: the role installs this one file and puts its directory on
the unit's PYTHONPATH."""

from __future__ import annotations

import hashlib
import hmac
import json
import os

# Left open: the gate and status probe /health without the key; /metrics is for Prometheus.
OPEN_PATHS = frozenset(["/health", "/metrics"])


def _digest(data):
    """sha256 of the header value as bytes (ASGI headers are raw bytes): equal lengths for
    compare_digest, whatever was sent."""
    return hashlib.sha256(data).digest()


class RequireKey(object):
    """``RequireKey(app)``: 401 for any HTTP or websocket request without the bearer key, but
    for OPEN_PATHS (and CORS preflights, which carry no credentials by design)."""

    def __init__(self, app, key=None):
        self.app = app
        key = (os.environ.get("VLLM_API_KEY", "") if key is None else key).rstrip("\r\n")
        # No key: nothing to ask for (vLLM itself serves openly then; the role's preflight
        # refuses a network bind without a key).
        self.expected = _digest(("Bearer " + key).encode("utf-8", "surrogateescape")) if key else None

    def allowed(self, scope):
        if self.expected is None or scope.get("method") == "OPTIONS":
            return True
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if path.rstrip("/") in OPEN_PATHS or path in OPEN_PATHS:
            return True
        for name, value in scope.get("headers") or ():
            if name.lower() == b"authorization":
                return hmac.compare_digest(_digest(value), self.expected)
        return False

    async def __call__(self, scope, receive, send):
        if scope.get("type") not in ("http", "websocket") or self.allowed(scope):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        body = json.dumps({"error": "Unauthorized"}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})
