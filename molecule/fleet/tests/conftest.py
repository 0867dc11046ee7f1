"""On a failed fleet test, what an operator needs from every host (testhost.py does it for one)."""
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "fleet" in item.funcargs:
        for name, host in item.funcargs["fleet"].items():
            try:
                report.sections.append((name, host.diagnostics()))
            except Exception as exc:  # a stopped host, say: never hide the real failure
                report.sections.append((name, "diagnostics failed: %s" % exc))
