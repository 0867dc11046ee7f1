# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One real completion against our own vLLM (the gate's --complete), with the API key from the
unit's 0600 environment file, never from a command line; the key is redacted from every answer."""

import json
import os

from .config import read_regular_file
from .redact import redact


COMPLETION_TIMEOUT = 300.0
ENV_FILE = "env"  # beside the service config: VLLM_API_KEY='...' (0600, the service user's)
ENV_FILE_LIMIT = 64 * 1024  # an environment file is a few lines; never read a huge one whole


class UnusableKey(ValueError):
    """The API key cannot be used as a header value (its value is never in the message)."""


def usable_key(key):
    """``key`` without the trailing CR/LF a CRLF file or a YAML block scalar leaves; UnusableKey
    (which never holds the value) when what remains has a control character (no header value)."""
    key = (key or "").rstrip("\r\n")
    if any(ord(char) < 0x20 or ord(char) == 0x7f for char in key):
        raise UnusableKey("the API key has a control character (%d characters; not shown)" % len(key))
    return key


def api_key(config):
    """VLLM_API_KEY from the environment, else from the unit's environment file beside
    ``config`` (as the role writes it: single-quoted); '' when neither has one."""
    key = os.environ.get("VLLM_API_KEY")
    if key:
        return usable_key(key)
    try:  # a small regular file of ours, never a FIFO, a device or a symlink to another secret
        lines = read_regular_file(os.path.join(os.path.dirname(config), ENV_FILE), ENV_FILE_LIMIT) \
            .decode("utf-8").splitlines()
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return ""
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and name.strip() == "VLLM_API_KEY":
            value = value.strip()
            return usable_key(value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value)
    return ""


def complete(base_url, model, prompt, max_tokens, key="", timeout=COMPLETION_TIMEOUT):
    """{'ok', 'status', 'tokens', 'text', 'error'} for one POST /v1/completions (greedy).

    ok: the answer is 200 and says it generated at least one token. A redirect is not followed
    (it fails, naming its status). The error is the server's status and the start of its
    answer, with the key redacted wherever the server (or an exception) echoes it."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        """A request that carries the key never follows a redirect: the 3xx is the answer."""

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            return None

    result = {"ok": False, "status": None, "tokens": 0, "text": None, "error": None}
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": int(max_tokens), "temperature": 0}).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    request = urllib.request.Request(base_url + "/v1/completions", data=body, headers=headers, method="POST")
    # No proxy: vLLM is on this host, and a proxy from the environment would only get in the way.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as answer:
            result["status"] = answer.status
            data = json.loads(answer.read(1 << 20).decode("utf-8", "replace"))
        result["tokens"] = int(((data.get("usage") or {}).get("completion_tokens")) or 0)
        result["text"] = ((data.get("choices") or [{}])[0] or {}).get("text")
        if result["tokens"] <= 0:
            result["error"] = "the completion returned no tokens: %s" % json.dumps(data)[:300]
    except urllib.error.HTTPError as exc:
        result["status"] = exc.code
        moved = " (a redirect to %s: not followed)" % exc.headers.get("Location") if 300 <= exc.code < 400 else ""
        result["error"] = "HTTP %d%s: %s" % (exc.code, moved, exc.read(300).decode("utf-8", "replace"))
    except (OSError, ValueError, AttributeError, TypeError, IndexError) as exc:
        result["error"] = str(exc) or type(exc).__name__
    result["ok"] = result["status"] == 200 and result["tokens"] > 0
    if result["error"]:
        result["error"] = redact(result["error"], [key])
    if result["text"] is not None:
        result["text"] = redact(str(result["text"]), [key])
    return result
