#!/usr/bin/env bash
# The collection's docs site, as Ansible's own collection docs are built: antsibull-docs renders
# every module, filter and role (argument_specs) to RST, Sphinx with sphinx-ansible-theme builds
# HTML. Offline, PyPI packages only; any antsibull error or Sphinx warning fails it.
#   bash scripts/docs.sh [DIR]   -> DIR/html/index.html (DIR defaults to build/docs)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/collections"  # this checkout's collection, not an installed one
dest=$(realpath -m "${1:-build/docs}")
rm -rf "$dest"
mkdir -p "$dest/src"
chmod 755 "$dest/src"  # antsibull-docs refuses a directory others can write

antsibull-docs sphinx-init --use-current --fail-on-error --squash-hierarchy --dest-dir "$dest/src" \
  --project openclaw.vllm --copyright "openclaw.vllm contributors" --title "openclaw.vllm" \
  openclaw.vllm >/dev/null

# Intersphinx: the generated conf.py fetches Ansible's and Python's inventories from the web,
# unreachable here. The rendered pages refer to three labels of the Ansible docs (the return
# values every module has, action plugins, configuration settings): a local inventory with just
# those resolves them to docs.ansible.com links without a download. A new label is a warning.
python - "$dest/src" <<'PY'
import pathlib, sys, zlib
src = pathlib.Path(sys.argv[1])
labels = [
    ("common_return_values", "reference_appendices/common_return_values.html#common-return-values", "Return Values"),
    ("action_plugins", "plugins/action.html#action-plugins", "Action plugins"),
    ("ansible_configuration_settings", "reference_appendices/config.html#ansible-configuration-settings",
     "Ansible Configuration Settings"),
]
body = "".join(f"{name} std:label -1 {uri} {title}\n" for name, uri, title in labels)
header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n" \
         "# The remainder of this file is compressed using zlib.\n"
(src / "ansible_devel.inv").write_bytes(header.encode() + zlib.compress(body.encode()))
with open(src / "conf.py", "a") as conf:
    conf.write("\n# scripts/docs.sh: offline, a local inventory only\n"
               "intersphinx_mapping = {'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/',"
               " '../ansible_devel.inv')}\n")
PY

mkdir -p "$dest/src/rst"
chmod og-w "$dest/src/rst"
antsibull-docs --config-file "$dest/src/antsibull-docs.cfg" collection --use-current --squash-hierarchy \
  --cleanup everything --fail-on-error --dest-dir "$dest/src/rst" openclaw.vllm >/dev/null
sphinx-build -q -W --keep-going -b html -c "$dest/src" "$dest/src/rst" "$dest/html"
echo "docs: $dest/html/index.html ($(find "$dest/html" -name '*.html' | wc -l) pages)"
