"""Drain on restart (vllm_service_shutdown_timeout): a request already in flight when the unit
restarts, as a roll-out restarts it, completes in full instead of being cut.

The request is made long enough to be in flight (a batch of n sequences, each max_tokens
long, with ignore_eos), calibrated on this host first: on a 2-core test host a tiny model
answers a single sequence in a fraction of a second. The test then checks, with the host's
own clock, that the request began before the restart did and ended after it: a request that
finished before the restart proves nothing, and fails the test instead of passing it."""
import json
import shlex

from testhost import PORT, SERVED_NAME, UNIT

TOKENS = 450


def request(testhost, n, out):
    body = {"model": SERVED_NAME, "prompt": "Hello", "max_tokens": TOKENS, "ignore_eos": True, "n": n,
            "temperature": 1}
    return ("curl -sS -m 120 -o %s -w '%%{http_code} %%{time_total}' -H %s -H 'Content-Type: application/json' "
            "-d %s http://127.0.0.1:%d/v1/completions" % (
                out, shlex.quote("Authorization: Bearer " + testhost.api_key()), shlex.quote(json.dumps(body)), PORT))


def test_a_request_in_flight_at_restart_completes(testhost):
    assert testhost.wait_healthy(timeout=300)
    # Calibrate: the smallest batch that takes at least a second here (within the 5 s drain).
    for n in (2, 4, 6, 8):
        code, took = testhost.run(request(testhost, n, "/tmp/drain-calibrate.json")).stdout.split()
        assert code == "200"
        if float(took) >= 1.0:
            break
    print("batch of n=%d took %s s" % (n, took))
    script = (
        "start=$(date +%%s.%%N); (%s > /tmp/drain-result) & sleep %.2f; "
        "restart=$(date +%%s.%%N); runuser -u vllm -- env XDG_RUNTIME_DIR=/run/user/%d "
        "systemctl --user restart %s; wait; echo \"$start $restart $(cat /tmp/drain-result)\""
    ) % (request(testhost, n, "/tmp/drain-body.json"), float(took) / 4, testhost.uid, UNIT)
    start, restart, code, total = testhost.run("bash -c %s" % shlex.quote(script)).stdout.split()
    body = testhost.run("cat /tmp/drain-body.json").stdout
    print("request began %s, restart began %s, request took %s s, HTTP %s" % (start, restart, total, code))
    assert float(start) < float(restart) < float(start) + float(total), "the request was in flight at the restart"
    assert code == "200", body
    usage = json.loads(body)["usage"]
    assert usage["completion_tokens"] == n * TOKENS, "every sequence ran to its end: %s" % usage
    assert testhost.wait_healthy(timeout=300), "and the service is back"
