"""With a key, no route of the real vLLM on the test host answers without it, but /health and
/metrics. vLLM's own --api-key check covers only /v1, /v2, /inference and /cohere; /invocations
and /generative_scoring run the model without it (read in vllm 0.32.0 and 0.33.0:
entrypoints/serve/middleware/authenticate.py), so the role adds its middleware. Every route this
vLLM registers (its OpenAPI document, read with the key, and the ones it leaves out of it) is
asked without the key, with every method it takes, in one script on the host."""
import json

from testhost import PORT

OPEN = {"/health", "/metrics"}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# Registered by vllm 0.32/0.33 for a generate model, not all of them in the OpenAPI document.
KNOWN = {"/invocations": ["POST"], "/generative_scoring": ["POST"], "/tokenize": ["POST"], "/detokenize": ["POST"],
         "/ping": ["GET", "POST"], "/scale_elastic_ep": ["POST"], "/is_scaling_elastic_ep": ["POST"],
         "/load": ["GET"], "/version": ["GET"], "/docs": ["GET"], "/redoc": ["GET"], "/openapi.json": ["GET"]}
ASK = r'''
import json, sys, urllib.error, urllib.request
port, routes = int(sys.argv[1]), json.loads(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
answers = {}
for path, methods in routes.items():
    for method in methods:
        data = b"{}" if method in ("POST", "PUT", "PATCH") else None
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with opener.open(request, timeout=60) as answer:
                code = answer.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        answers["%s %s" % (method, path)] = code
print(json.dumps(answers))
'''


def test_no_route_but_health_and_metrics_answers_without_the_key(testhost):
    status, spec = testhost.http("/openapi.json")
    assert status == 200, spec
    routes = {path.replace("{", "").replace("}", ""): sorted(m.upper() for m in methods if m in HTTP_METHODS)
              for path, methods in spec["paths"].items()}
    for path, methods in KNOWN.items():
        routes.setdefault(path, methods)
    assert "/invocations" in routes and "/v1/completions" in routes, sorted(routes)
    testhost.run("cat > /tmp/openclaw-ask-routes.py <<'EOF'\n%s\nEOF" % ASK)
    result = testhost.run("python3 /tmp/openclaw-ask-routes.py %d %s" % (PORT, "'%s'" % json.dumps(routes)))
    assert result.rc == 0, result.stderr
    answers = json.loads(result.stdout)
    print(json.dumps(answers, indent=1, sort_keys=True))
    opened = {asked: code for asked, code in answers.items() if code != 401 and asked.split(" ", 1)[1] not in OPEN}
    assert opened == {}, "answered without the key: %s" % opened
    assert answers["GET /health"] == 200
    assert testhost.http("/metrics", key=False)[0] == 200
    # With the key the middleware lets the model answer where vLLM's check does not look.
    status, reply = testhost.http("/invocations", {"model": "local-assistant", "prompt": "Hello", "max_tokens": 2})
    assert status != 401, reply
