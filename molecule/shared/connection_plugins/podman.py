# The test hosts' transport: containers.podman.podman with pipelining, the way ssh runs modules
# on real hosts (ansible.cfg: pipelining = true). Upstream sets has_pipelining = False because
# its `podman exec` does not pass stdin on; this one adds `-i` when there is input, so a module
# is one `podman exec` instead of three (mkdir, exec, rm). Only the transport to the test
# containers changes; every task still runs on the host as it would over ssh.
# Molecule names the connection `podman` (short name); ANSIBLE_CONNECTION_PLUGINS (the base
# molecule config and siteplay.py) puts this directory ahead of the collection's redirect.
from __future__ import annotations

DOCUMENTATION = """
    name: podman
    short_description: containers.podman.podman with pipelining (the test hosts' transport)
    description:
        - Run commands in, and put/fetch files to, an existing podman container; modules are
          piped to the host's Python through C(podman exec -i).
    options:
      remote_addr:
        description: The ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: User to run commands as inside the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments to pass to the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: Executable for podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
      pipelining:
        description: Pipe modules to the host's Python instead of copying them first.
        type: boolean
        default: true
        vars:
          - name: ansible_pipelining
"""

import shlex

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as UpstreamConnection

# When podman itself fails (the container is stopped or gone) `podman exec` exits 125 or, in the
# podman here, 255 with "Error: ..." on stderr: the host is unreachable, as ssh's 255 says.
# Without pipelining ansible learnt it from the failed mkdir of its temporary directory; a
# pipelined module has none, so say it here.
PODMAN_ERRORS = (125, 255)


class Connection(UpstreamConnection):
    transport = "podman"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        if in_data is None:
            rc, stdout, stderr = super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        else:
            # The base class's bookkeeping, then `podman exec -i` so the module reaches the host's stdin.
            super(UpstreamConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
            exec_args = ["exec", "-i"] + (["--user", self.user] if self.user else [])
            rc, stdout, stderr = self._podman(exec_args, shlex.split(to_native(cmd, errors="surrogate_or_strict")),
                                              in_data)
        if rc in PODMAN_ERRORS and stderr.lstrip().startswith(b"Error: "):
            raise AnsibleConnectionFailure("podman exec on %s failed: %s" % (
                self._container_id, to_native(stderr, errors="surrogate_or_replace").strip()))
        return rc, stdout, stderr
