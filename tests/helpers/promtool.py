"""Debian's promtool (scripts/prometheus-tools.sh unpacks it under .cache/prometheus) and the Prometheus
text format read back with prometheus_client's own parser."""
import shutil
import subprocess

import pytest

from helpers.paths import FULL_TIER, ROOT

UNPACKED = ROOT / ".cache" / "prometheus" / "usr" / "bin" / "promtool"


def promtool_path():
    """The unpacked promtool, else one on PATH; skips in the fast tier when neither is there."""
    found = str(UNPACKED) if UNPACKED.exists() else shutil.which("promtool")
    if not found:
        if FULL_TIER:
            pytest.fail("promtool missing: scripts/test.sh runs scripts/prometheus-tools.sh before the tests")
        pytest.skip("promtool not unpacked: bash scripts/prometheus-tools.sh")
    return found


def promtool(*args, stdin=None, cwd=None):
    """Run promtool; a non-zero exit fails the test with its output."""
    result = subprocess.run([promtool_path(), *args], input=stdin, cwd=cwd, capture_output=True, timeout=120)
    assert result.returncode == 0, (result.stdout + result.stderr).decode("utf-8", "replace")
    return result.stdout.decode("utf-8", "replace")


def _label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def samples(text):
    """{'name{k="v",...}': value} of every sample, labels in the order the file gives them."""
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join('%s="%s"' % (k, _label(v)) for k, v in sample.labels.items())
            found["%s{%s}" % (sample.name, labels)] = sample.value
    return found
