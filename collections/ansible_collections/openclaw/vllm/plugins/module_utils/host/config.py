# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service config (~/.config/openclaw-vllm/service.conf) that the role writes and the host
commands read: port, host, unit, patterns, GPUs, memory budget, the metrics directory."""

import errno
import os
import stat

from .inputs import UsageError, check_port
from .patterns import check_patterns


SERVICE_CONFIG = "openclaw-vllm/service.conf"  # under $XDG_CONFIG_HOME (~/.config)
_CONFIG_KEYS = ("port", "host", "unit", "pattern", "gpus", "gpu_memory_utilization", "metrics_dir")
# CUDA_VISIBLE_DEVICES as the role writes it: indexes or UUIDs, comma-separated (empty: all GPUs).
# No `re`: the guard's free path imports nothing it does not need.
_GPUS_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,-")


def check_utilization(value):
    """gpu_memory_utilization as a float in (0, 1], else UsageError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError("gpu_memory_utilization must be a number in (0, 1], got %r" % str(value)[:80])
    if not 0 < number <= 1:
        raise UsageError("gpu_memory_utilization must be in (0, 1], got %s" % value)
    return number


def default_config_path():
    """The service user's config, written by the vllm_service role beside the unit."""
    base = os.environ.get("XDG_CONFIG_HOME")
    if not base:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError):
            home = os.path.expanduser("~")
        base = os.path.join(home, ".config")
    return os.path.join(base, SERVICE_CONFIG)


CONFIG_LIMIT = 64 * 1024  # a service config is a few lines


def read_regular_file(path, limit):
    """The bytes of ``path``, a regular file of at most ``limit`` bytes owned by this user or
    root; else ValueError saying what it is instead (a symlink, a FIFO or device, too large,
    another user's). Never blocks on a FIFO, never follows a symlink, never reads past limit.
    FileNotFoundError when there is nothing there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("is a symlink (a regular file is expected)")
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError("cannot be read: %s" % (exc.strerror or exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("is not a regular file (a FIFO, device, socket or directory)")
        if info.st_uid not in (os.getuid(), 0):
            raise ValueError("is owned by uid %d, not by this user (uid %d) or root" % (info.st_uid, os.getuid()))
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            raise ValueError("is larger than %d bytes" % limit)
        return data
    except OSError as exc:
        raise ValueError("cannot be read: %s" % (exc.strerror or exc))
    finally:
        os.close(fd)


def read_service_config(path=None):
    """{port, host, unit, patterns} from the service config (``key=value`` lines, one
    ``pattern=`` per pattern; every other key at most once); {} when the default file does not
    exist. A bad line is a UsageError naming the file and the line; values are checked as flags
    are. Only a regular file of this user (or root) of at most CONFIG_LIMIT bytes is read."""
    explicit = path is not None
    path = path or default_config_path()
    try:
        data = read_regular_file(path, CONFIG_LIMIT)
    except FileNotFoundError:
        if explicit:
            raise UsageError("config %s does not exist" % path)
        return {}
    except ValueError as exc:
        raise UsageError("config %s %s" % (path, exc))
    config, seen = {}, {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UsageError("config %s line %d is not UTF-8" % (path, number))
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in _CONFIG_KEYS:
            raise UsageError("config %s line %d: expected one of %s=VALUE, got %r" % (
                path, number, "=, ".join(_CONFIG_KEYS), line[:80]))
        if key != "pattern" and key in seen:
            raise UsageError("config %s lines %d and %d both set %s=: keep one" % (path, seen[key], number, key))
        seen[key] = number
        try:
            if key == "port":
                config["port"] = check_port(value)
            elif key == "pattern":
                config.setdefault("patterns", []).append(value)
            elif key == "gpus":
                if not set(value) <= _GPUS_CHARS:
                    raise UsageError("gpus must be GPU indexes or UUIDs, comma-separated, got %r" % value[:80])
                config["gpus"] = value
            elif key == "gpu_memory_utilization":
                config["gpu_memory_utilization"] = check_utilization(value)
            elif key == "metrics_dir":
                if value and not value.startswith("/"):
                    raise UsageError("metrics_dir must be an absolute directory (empty: no metrics), got %r" % value[:80])
                config["metrics_dir"] = value
            else:
                config[key] = value
        except UsageError as exc:
            raise UsageError("config %s line %d: %s" % (path, number, exc))
    if "patterns" in config:
        try:
            config["patterns"] = check_patterns(config["patterns"])
        except UsageError as exc:
            raise UsageError("config %s: %s" % (path, exc))
    return config
