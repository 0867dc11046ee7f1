#!/usr/bin/env bash
# The main job, locally: start a test host with real systemd (podman), run
# `ansible-playbook site.yml -i inventory/demo` against it, and print its status.
# Keeps the host running: `make demo-clean` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
NAME=openclaw-demo
IMAGE=localhost/openclaw-testhost:bookworm

if ! podman container exists "$NAME"; then
  podman run -d --name "$NAME" --hostname "$NAME" --systemd=always --shm-size=1g \
    -v "$PWD/.cache/wheelhouse:/srv/wheelhouse:ro" "$IMAGE" /sbin/init >/dev/null
fi
podman start "$NAME" >/dev/null
# Right after start, systemctl may answer "Failed to connect to bus": retry.
for _ in $(seq 1 100); do
  state=$(podman exec "$NAME" systemctl is-system-running --wait 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 0.2
done

start=$SECONDS
ansible-playbook -i inventory/demo site.yml
echo "site.yml took $((SECONDS - start))s"
echo "--- openclaw-vllm status --verbose on $NAME"
podman exec "$NAME" runuser -u vllm -- env XDG_RUNTIME_DIR=/run/user/"$(podman exec "$NAME" id -u vllm)" \
  /home/vllm/.local/bin/openclaw-vllm status --verbose
