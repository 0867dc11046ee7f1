"""A squatter for the test hosts: another user's (nobody's) real HTTP server that takes PORT as
soon as it is free (it retries the bind every 10 ms, so it wins a restart window) and answers 200
to everything, a plausible completion included. It writes down every request's Authorization
header in LOG, so a test sees whether the API key reached it.

    python3 squatter.py PORT LOG
"""
import errno
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, LOG = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self):
        with open(LOG, "a") as handle:
            handle.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization")}) + "\n")
        body = json.dumps({"choices": [{"text": " squatted", "message": {"content": "squatted"}}],
                           "usage": {"completion_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer


class Server(HTTPServer):
    # SO_REUSEADDR, as servers set it (uvicorn, vLLM's, does): it binds over the TIME_WAIT
    # connections that health checks leave on the port for 60 s (a plain bind would wait those
    # out and lose the restart window), but never beside a socket that listens: it waits for
    # the port, it does not share it.
    allow_reuse_address = True


while True:
    try:
        server = Server(("127.0.0.1", PORT), Handler)
        break
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        time.sleep(0.01)
server.serve_forever()
