# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet as Prometheus sees it: from the inventory, one scrape target per vLLM endpoint and one per
node exporter, in the shapes prometheus.prometheus.prometheus takes (``prometheus_targets``: job ->
file_sd target groups; ``prometheus_scrape_configs``: jobs reading those files)."""

from __future__ import annotations

from .host.constants import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_UNIT

VLLM_JOB = "openclaw-vllm"
NODE_JOB = "node"
NODE_EXPORTER_PORT = 9100
LOOPBACK = ("127.0.0.1", "::1", "localhost")
WILDCARD = ("0.0.0.0", "::", "")


class TargetError(ValueError):
    """An inventory no scrape can follow; the message names the host and the variable."""


def _address(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def _port(name, value, hostname):
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise TargetError("%s of host %s is %r, expected a port in 1..65535" % (name, hostname, value))
    return port


def targets(hosts, hostvars, scrape_from="remote", node_exporter_port=NODE_EXPORTER_PORT):
    """{job: [{targets: [address], labels: {host, port, unit}}]} for ``hosts`` (inventory names).

    ``scrape_from``: ``remote`` (a Prometheus elsewhere: vLLM's bind address, or the host's address
    when it binds every interface; a lane bound to loopback cannot be reached and is an error) or
    ``local`` (a Prometheus or agent on each host: 127.0.0.1)."""
    if scrape_from not in ("remote", "local"):
        raise TargetError("scrape_from is %r, expected remote or local" % (scrape_from,))
    vllm, node = [], []
    for hostname in hosts:
        facts = hostvars.get(hostname)
        if facts is None:
            raise TargetError("host %s is not in hostvars" % hostname)
        port = _port("vllm_service_port", facts.get("vllm_service_port", DEFAULT_PORT), hostname)
        node_port = facts.get("openclaw_vllm_node_exporter_port", node_exporter_port)
        node_port = _port("openclaw_vllm_node_exporter_port", node_port, hostname)
        bind = str(facts.get("vllm_service_host", DEFAULT_HOST))
        reach = str(facts.get("ansible_host", hostname))
        if scrape_from == "local":
            vllm_address, node_address = _address("127.0.0.1", port), _address("127.0.0.1", node_port)
        elif bind in LOOPBACK:
            raise TargetError(
                "vllm_service_host of host %s is %s: a Prometheus on another host cannot scrape it. Bind an "
                "address Prometheus reaches, or scrape from each host (scrape_from=local)" % (hostname, bind))
        else:
            vllm_address = _address(reach if bind in WILDCARD else bind, port)
            node_address = _address(reach, node_port)
        labels = {"host": hostname, "port": str(port), "unit": str(facts.get("vllm_service_unit_name", DEFAULT_UNIT))}
        vllm.append({"targets": [vllm_address], "labels": labels})
        node.append({"targets": [node_address], "labels": {"host": hostname}})
    return {VLLM_JOB: vllm, NODE_JOB: node}


def scrape_configs(file_sd_dir):
    """The two jobs, each reading its targets from ``<file_sd_dir>/<job>.yml`` (what
    prometheus.prometheus.prometheus writes from ``prometheus_targets``). vLLM's /metrics answers
    without the API key (the key guards /v1 only), so no credentials are needed."""
    return [{"job_name": job, "metrics_path": "/metrics",
             "file_sd_configs": [{"files": ["%s/%s.yml" % (file_sd_dir.rstrip("/"), job)]}]}
            for job in (VLLM_JOB, NODE_JOB)]
