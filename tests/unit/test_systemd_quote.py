"""systemd quoting: values from variables reach vLLM unchanged (checked by systemd-analyze)."""
import os
import subprocess

import pytest

from helpers.marks import needs_tools

from ansible_collections.openclaw.vllm.plugins.module_utils.systemd_escape import systemd_command, systemd_quote


@pytest.mark.parametrize("value, expected", [
    ("local-assistant", "local-assistant"),
    ("8001", "8001"),
    ("my model", '"my model"'),
    ("100%", '"100%%"'),
    ("$HOME", '"$$HOME"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("line\nbreak", '"line\\nbreak"'),
    ("", '""'),
])
def test_systemd_quote(value, expected):
    assert systemd_quote(value) == expected


def test_systemd_command_quotes_each_argument():
    assert systemd_command(["/opt/v/bin/vllm", "serve", "/srv/m", "--served-model-name", "a b%$"]) == \
        '/opt/v/bin/vllm serve /srv/m --served-model-name "a b%%$$"'


@needs_tools("systemd-analyze")
def test_systemd_analyze_accepts_and_parses_the_quoted_line(tmp_path):
    """systemd itself parses the line: a bad specifier or quote makes verify fail."""
    program = tmp_path / "bin" / "vllm"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    argv = [str(program), "serve", "/srv/my model", "--served-model-name", 'odd name 100% $x "q" \\ end']
    unit = tmp_path / "quoting-check.service"
    unit.write_text("[Service]\nType=exec\nExecStart=%s\nEnvironment=%s\n" % (
        systemd_command(argv), systemd_quote("NOTE=100% $HOME")))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                            env=dict(os.environ, SYSTEMD_LOG_LEVEL="info"))
    errors = [line for line in result.stderr.splitlines() if "quoting-check" in line]
    assert errors == [], result.stderr
    assert result.returncode == 0, result.stderr


def test_environment_context_keeps_dollar():
    """systemd expands $ in command lines only; in Environment= $$ would stay $$."""
    assert systemd_quote("NOTE=100% $0", "environment") == '"NOTE=100%% $0"'
    assert systemd_quote("$x", "exec") == '"$$x"'


def test_unknown_context_is_refused():
    with pytest.raises(ValueError, match="context 'shell'"):
        systemd_quote("x", "shell")
