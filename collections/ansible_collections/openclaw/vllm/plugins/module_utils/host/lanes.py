# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a lane (one of several vLLM units on a host) keeps its unit and its config: the names the
vllm_service role writes and the host commands read, defined once.

The default lane keeps what a host without lanes has: openclaw-vllm.service and
~/.config/openclaw-vllm/service.conf with the env file beside it. Lane ``chat`` is
openclaw-vllm-chat.service with ~/.config/openclaw-vllm/lanes/chat/service.conf and its own env file
beside that (the status command reads the API key from the file beside the config)."""

import os

from .config import default_config_path
from .constants import DEFAULT_UNIT
from .inputs import UsageError

DEFAULT_LANE = "default"
LANES_DIR = "lanes"
NAME_LIMIT = 32
# Lane names go into unit and file names: lowercase letters, digits and inner dashes.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def check_lane(name):
    """The lane's name, else UsageError naming it and what is expected."""
    if not isinstance(name, str) or not 0 < len(name) <= NAME_LIMIT or not set(name) <= _NAME_CHARS \
            or name.startswith("-") or name.endswith("-"):
        raise UsageError("lane %r: expected lowercase letters, digits and inner dashes (at most %d)"
                         % (name, NAME_LIMIT))
    return name


def lane_unit(name):
    """openclaw-vllm.service for the default lane, openclaw-vllm-<name>.service for another."""
    check_lane(name)
    return DEFAULT_UNIT if name == DEFAULT_LANE else "%s-%s.service" % (DEFAULT_UNIT[:-len(".service")], name)


def lane_config_dir(name, config_home=None):
    """The lane's directory under ~/.config/openclaw-vllm (service.conf and env): '' for the default
    lane, lanes/<name> for another; under config_home (the service config's directory) when given."""
    check_lane(name)
    relative = "" if name == DEFAULT_LANE else os.path.join(LANES_DIR, name)
    return relative if config_home is None else os.path.join(config_home, relative) if relative else config_home


def lane_config_path(name):
    """This user's service config of the lane."""
    return os.path.join(lane_config_dir(name, os.path.dirname(default_config_path())), "service.conf")


def lane_names(config_home=None):
    """The lanes the service user has a service config for, under config_home (default: this
    user's ~/.config/openclaw-vllm): the default lane first when its config exists, then each
    lanes/<name>/service.conf by name. A directory whose name cannot be a lane is not one."""
    home = config_home or os.path.dirname(default_config_path())
    names = [DEFAULT_LANE] if os.path.isfile(os.path.join(home, "service.conf")) else []
    try:
        entries = sorted(os.listdir(os.path.join(home, LANES_DIR)))
    except OSError:
        entries = []
    for entry in entries:
        try:
            check_lane(entry)
        except UsageError:
            continue
        if entry != DEFAULT_LANE and os.path.isfile(os.path.join(home, LANES_DIR, entry, "service.conf")):
            names.append(entry)
    return names
