"""What the tests share: paths, skip marks, real processes and ports, Ansible runners and test
doubles of what lies outside the thing under test. On pytest's pythonpath (pyproject.toml), so
tests import ``helpers.<module>``; no test module imports another."""
