"""Stand-in for the get-pip.py that ansible-test bootstraps its virtualenvs with.

ansible-test (--venv, --requirements) downloads get-pip.py from a host outside the package
registries, unless ~/.ansible/test/cache/get_pip_<version>.py already exists. scripts/sanity.sh
puts this file there: it takes the same arguments (packages such as pip==24.2, plus
--no-setuptools / --no-wheel), seeds pip from the interpreter's own ensurepip (offline) and then
installs what was asked for from the configured package index.
"""

import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
if "--no-setuptools" not in sys.argv:
    args.append("setuptools")
if "--no-wheel" not in sys.argv:
    args.append("wheel")
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])
