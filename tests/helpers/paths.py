"""Where things are: the project, the guard's console scripts, the holder process."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOLDER = str(ROOT / "tests" / "holder.py")
BIN = Path(sys.executable).parent
GUARD = str(BIN / "openclaw-vllm-guard")
STATUS = str(BIN / "openclaw-vllm")
ANSIBLE = str(BIN / "ansible")
ANSIBLE_PLAYBOOK = str(BIN / "ansible-playbook")
# Another user cannot run an interpreter under /root (pyenv): use the system one.
SYSTEM_PYTHON = "/usr/bin/python3"
# scripts/test.sh sets this: the full tier installed every tool first (scripts/bootstrap.sh), so a
# test never skips there for a missing tool; it runs and fails, the same on every machine.
FULL_TIER = os.environ.get("OPENCLAW_VLLM_FULL_TIER") == "1"
