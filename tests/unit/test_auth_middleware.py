"""The role's ASGI middleware (roles/vllm_service/files/openclaw_vllm_auth.py) that asks for the API
key on every route but /health and /metrics. The downstream app is a TEST DOUBLE of vLLM's app
(it only records that it was reached); the molecule default scenario asks a real vLLM every route
it registers."""
import asyncio
import importlib.util

import pytest

from helpers.paths import ROOT


SOURCE = ROOT / "collections/ansible_collections/openclaw/vllm/roles/vllm_service/files/openclaw_vllm_auth.py"
spec = importlib.util.spec_from_file_location("openclaw_vllm_auth", SOURCE)
auth = importlib.util.module_from_spec(spec)
spec.loader.exec_module(auth)
KEY = "k3y-\u00e9-100%"


def call(scope, key=KEY):
    """(reached the app?, what was sent) for one request through RequireKey."""
    reached, sent = [], []

    async def app(scope, receive, send):  # the TEST DOUBLE of vLLM's app
        reached.append(scope["path"])

    async def receive():
        return {"type": "http.request"}

    async def send(message):
        sent.append(message)

    asyncio.run(auth.RequireKey(app, key=key)(dict({"type": "http", "method": "POST", "headers": []}, **scope),
                                              receive, send))
    return bool(reached), sent


def bearer(key=KEY):
    return [(b"authorization", ("Bearer " + key).encode("utf-8"))]


@pytest.mark.parametrize("path", ["/invocations", "/generative_scoring", "/tokenize", "/detokenize", "/ping",
                                  "/scale_elastic_ep", "/version", "/load", "/openapi.json", "/docs",
                                  "/v1/completions", "/pooling", "/health/../invocations", "//invocations", "/"])
def test_every_route_but_the_open_ones_asks_for_the_key(path):
    reached, sent = call({"path": path})
    assert not reached
    assert sent[0]["status"] == 401 and (b"www-authenticate", b"Bearer") in sent[0]["headers"]
    reached, _ = call({"path": path, "headers": bearer()})
    assert reached


@pytest.mark.parametrize("path", ["/health", "/metrics", "/health/"])
def test_health_and_metrics_stay_open(path):
    assert call({"path": path, "method": "GET"})[0]


def test_a_wrong_key_or_scheme_is_refused():
    assert not call({"path": "/invocations", "headers": bearer("other")})[0]
    assert not call({"path": "/invocations", "headers": [(b"authorization", KEY.encode("utf-8"))]})[0]


def test_a_root_path_is_taken_off_before_the_check():
    assert call({"path": "/api/health", "root_path": "/api", "method": "GET"})[0]
    assert not call({"path": "/api/invocations", "root_path": "/api"})[0]


def test_a_websocket_without_the_key_is_closed():
    reached, sent = call({"type": "websocket", "path": "/v1/realtime"})
    assert not reached and sent == [{"type": "websocket.close", "code": 1008}]


def test_without_a_key_nothing_is_asked():
    assert call({"path": "/invocations"}, key="")[0]


def test_the_key_comes_from_the_environment_without_its_line_break(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", KEY + "\r\n")
    reached = []

    async def app(scope, receive, send):
        reached.append(True)

    async def noop(*args):
        return {"type": "http.request"}

    middleware = auth.RequireKey(app)
    asyncio.run(middleware({"type": "http", "method": "POST", "path": "/invocations", "headers": bearer()}, noop, noop))
    assert reached
