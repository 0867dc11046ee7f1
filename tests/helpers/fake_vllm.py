"""A TEST DOUBLE of vLLM's console script (``vllm serve MODEL --port N``: /health answers 200), laid
out as the vllm_venv and awq_model roles leave a build and a model version; what is under test
is status reading them, not vLLM (the molecule scenarios run the real one)."""
import stat
import textwrap

BUILD = "vllm-cpu-0123456789ab"
VERSION = "tiny-awq-abcdef012345"

FAKE_VLLM = textwrap.dedent("""\
    #!{python}
    # Stands in for vLLM's console script: `vllm serve MODEL --port N ...`, /health answers 200.
    import http.server, sys
    port = int(sys.argv[sys.argv.index("--port") + 1])

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
    """)


def executable(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
