# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.openclaw.vllm.plugins.module_utils import scrape_targets


def prometheus_targets(hosts, hostvars, scrape_from="remote", node_exporter_port=scrape_targets.NODE_EXPORTER_PORT):
    """Inventory hosts -> prometheus_targets (module_utils/scrape_targets.py)."""
    try:
        return scrape_targets.targets(list(hosts), hostvars, scrape_from, node_exporter_port)
    except scrape_targets.TargetError as exc:
        raise AnsibleFilterError("prometheus_targets: %s" % exc)


def prometheus_scrape_configs(file_sd_dir):
    """The file_sd directory -> prometheus_scrape_configs for the two jobs."""
    return scrape_targets.scrape_configs(str(file_sd_dir))


class FilterModule(object):
    """The fleet as Prometheus scrape targets."""

    def filters(self):
        return {"prometheus_targets": prometheus_targets, "prometheus_scrape_configs": prometheus_scrape_configs}
