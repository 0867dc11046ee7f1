# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which systemd service a process runs in, from /proc/<pid>/cgroup (cgroup v2, or v1's
name=systemd hierarchy). A process inside a service's cgroup is that service's, whatever its argv
says: the guard never takes a running unit's process for a stray."""


def cgroup_paths(pid):
    """The cgroup paths of ``pid`` (every hierarchy: v2's and v1's name=systemd), or []."""
    try:
        with open("/proc/%s/cgroup" % ("self" if pid == "self" else int(pid)), "rb") as handle:
            data = handle.read(64 * 1024).decode("utf-8", "replace")
    except (OSError, ValueError, TypeError):
        return []
    return [line.split(":", 2)[2] for line in data.splitlines() if line.count(":") >= 2]


def service_of(pid):
    """The service whose cgroup holds ``pid``: the deepest unit of its cgroup path when that is a
    ``.service``, else None. A process in a scope (a login session, ``systemd-run --scope``, the
    user manager's init.scope), in a slice, or outside systemd belongs to no service."""
    for path in cgroup_paths(pid):
        units = [part for part in path.split("/") if part.endswith((".service", ".scope", ".slice"))]
        if units and units[-1].endswith(".service"):
            return units[-1]
    return None


def own_services(unit=None):
    """The services whose processes are this guard's to judge by identity: the one it runs in
    (ExecStartPre runs in the unit's cgroup) and the unit it serves (``unit=`` in service.conf),
    for a guard or status run from a shell."""
    return frozenset(name for name in (service_of("self"), unit) if name)


def sibling_service(pid, own):
    """The service ``pid`` runs in when that is not one of ``own`` (own_services()), else None."""
    service = service_of(pid)
    return service if service and service not in own else None
