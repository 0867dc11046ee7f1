#!/usr/bin/env bash
# The controller's ssh key for the test hosts the scenarios reach over ssh (molecule/fleet), and
# the directory of authorized keys those hosts mount read-only at /etc/ssh/openclaw-test-keys
# (sshd there reads <dir>/<user>; scripts/testhost-image.sh). Idempotent: an existing key is kept.
#
#   .cache/ssh/id_ed25519                   the key (ansible_ssh_private_key_file)
#   .cache/ssh/authorized_keys/ocadmin      admin with sudo, no password asked
#   .cache/ssh/authorized_keys/ocpasswd     admin whose sudo asks a password it cannot give
#   .cache/ssh/other_ed25519                a key no host accepts (the refused-key case)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/ssh
mkdir -p "$dir/authorized_keys"
# sshd's StrictModes: the key files and every directory above them not writable by others.
chmod 0755 "$dir" "$dir/authorized_keys"
for key in id_ed25519 other_ed25519; do
  [[ -f $dir/$key ]] || ssh-keygen -q -t ed25519 -N '' -C "openclaw-vllm test controller" -f "$dir/$key"
done
for user in ocadmin ocpasswd; do
  install -m 0644 "$dir/id_ed25519.pub" "$dir/authorized_keys/$user"
done
echo "$dir/id_ed25519"
