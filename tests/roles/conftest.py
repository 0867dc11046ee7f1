"""Fixtures of the roles tier."""
import pytest


@pytest.fixture
def model_archive_server(tiny_model, tmp_path):
    """A real HTTP server with a tar.gz of the tiny model (files under tiny-awq/)."""
    import functools
    import hashlib
    import http.server
    import tarfile
    import threading

    served = tmp_path / "served"
    served.mkdir()
    archive = served / "tiny-awq.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_model, arcname="tiny-awq")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/tiny-awq.tar.gz" % server.server_address[1], \
        hashlib.sha256(archive.read_bytes()).hexdigest()
    server.shutdown()
