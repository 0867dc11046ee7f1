"""scripts/failure-summary.py: the last lines of a failed tier say why, from a step's log as
molecule writes it (colours, its box drawing, passing tests' expected `fatal:` lines)."""
import subprocess
import sys

from helpers.paths import ROOT

SCRIPT = str(ROOT / "scripts/failure-summary.py")
BOX = "  \x1b[2m\u2502\x1b[0m "


def summary(tmp_path, text):
    log = tmp_path / "step.log"
    log.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, SCRIPT, str(log)], check=True, capture_output=True, text=True).stdout


def test_a_failed_verifier_test_is_named_with_its_assertion_not_the_expected_fatals(tmp_path):
    out = summary(tmp_path, "".join(BOX + line + "\n" for line in [
        "tests/test_fleet.py::test_a PASSED [ 20%]",
        "tests/test_fleet.py::test_b FAILED [ 40%]",
        "_____________ test_b _____________",
        "E       AssertionError: host 2 served v2",
        "E       assert 'v2' == 'v1'",
        "___________ test_a ___________",
        "fatal: [openclaw-fleet-2]: FAILED! => expected by test_a",
        "FAILED tests/test_fleet.py::test_b - AssertionError: host 2 served v2",
    ]) + "INFO destroy: Executed: Successful\n")
    lines = out.splitlines()
    assert "FAILED tests/test_fleet.py::test_b - AssertionError: host 2 served v2" in lines
    assert "E       assert 'v2' == 'v1'" in lines
    assert "expected by test_a" not in out and "\x1b" not in out and "\u2502" not in out


def test_a_failed_play_is_named_by_its_fatal_line(tmp_path):
    out = summary(tmp_path, "TASK [x]\nfatal: [openclaw-testhost]: FAILED! => {\"msg\": \"no wheel\"}\nPLAY RECAP\n")
    assert 'fatal: [openclaw-testhost]: FAILED! => {"msg": "no wheel"}' in out.splitlines()


def test_otherwise_the_last_lines(tmp_path):
    out = summary(tmp_path, "".join("line %d\n" % n for n in range(40)))
    assert out.splitlines()[1:] == ["line %d" % n for n in range(25, 40)]
