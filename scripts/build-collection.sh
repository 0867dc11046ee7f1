#!/usr/bin/env bash
# Build the collection artifact and prove it installs and documents itself.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/collection
rm -rf "$out" && mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" collections/ansible_collections/openclaw/vllm
artifact=$(ls "$out"/openclaw-vllm-*.tar.gz)
ansible-galaxy collection install --force -p "$out/installed" "$artifact"
installed="$out/installed/ansible_collections/openclaw/vllm"
for path in plugins/module_utils/host/__init__.py plugins/module_utils/host/guard_cli.py plugins/modules/port_guard.py roles/vllm_service/tasks/main.yml \
            roles/vllm_venv/meta/argument_specs.yml roles/awq_model/meta/argument_specs.yml; do
  [[ -f $installed/$path ]] || { echo "missing from the artifact: $path" >&2; exit 1; }
done
# ansible-doc renders every module and filter from the installed artifact, not the checkout.
export ANSIBLE_COLLECTIONS_PATH="$PWD/$out/installed"
ansible-doc openclaw.vllm.port_guard >/dev/null
ansible-doc openclaw.vllm.awq_model_verify >/dev/null
ansible-doc openclaw.vllm.free_space >/dev/null
ansible-doc -t filter openclaw.vllm.systemd_quote >/dev/null
ansible-doc -t filter openclaw.vllm.systemd_command >/dev/null
ansible-doc -t role openclaw.vllm.vllm_service >/dev/null
echo "collection: $artifact builds, installs and documents itself"
