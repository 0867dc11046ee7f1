# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback point of vllm_service: the unit that the last switch replaced, kept outside the
unit directory. Its ExecStart= names the build and the model version it served (resolved paths),
so it alone says what a rollback returns to. The point it replaced waits beside it (``.older``)
until the next switch: a failed gate's automatic rollback puts that back.

Every change is a rename on the point's own filesystem (a copy where the unit lives on another),
so a run killed at any moment leaves the unit and the point whole.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat

from .systemd_escape import systemd_split


class PointError(Exception):
    """The point cannot be read or moved; the message names the path."""


# A unit file is a few KiB; the service user owns the directory, so the point may be anything.
MAX_UNIT_BYTES = 1024 * 1024


def _read_regular(path):
    """The text of the regular file at ``path``, read without following a link and without
    blocking (a FIFO or a device in its place is refused, never opened for a blocking read)."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise PointError("cannot read the rollback point %s: %s" % (path, exc.strerror or exc))
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise PointError("the rollback point %s is not a regular file" % path)
        data = os.read(handle, MAX_UNIT_BYTES + 1)
    finally:
        os.close(handle)
    if len(data) > MAX_UNIT_BYTES:
        raise PointError("the rollback point %s is larger than a unit file (over %d bytes)" % (path, MAX_UNIT_BYTES))
    return data.decode("utf-8", "replace")


def _older(point):
    return point + ".older"


def served(point):
    """{exists, venv, model, on_disk}: what the unit at ``point`` served. venv/model are empty
    where its ExecStart= is not ``<build>/bin/vllm serve <model> ...`` (a unit this role did not
    write); on_disk: the build's vllm and the model's config.json are both there."""
    if not os.path.lexists(point):
        return {"exists": False, "venv": "", "model": "", "on_disk": False}
    lines = _read_regular(point).splitlines()
    venv = model = ""
    for line in lines:
        key, equals, value = line.strip().partition("=")
        if key.strip() != "ExecStart" or not equals:
            continue
        try:
            words = systemd_split(value.strip().lstrip("-@:+!"))
        except ValueError:
            words = []
        if len(words) >= 3 and words[0].endswith("/bin/vllm") and words[1] == "serve":
            venv, model = words[0][:-len("/bin/vllm")], words[2]
    on_disk = bool(venv and model and os.path.isfile(venv + "/bin/vllm")
                   and os.path.isfile(os.path.join(model, "config.json")))
    return {"exists": True, "venv": venv, "model": model, "on_disk": on_disk}


def _move(source, dest):
    """Rename ``source`` over ``dest``; across filesystems, a copy beside ``dest`` renamed over it."""
    try:
        os.replace(source, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temporary = dest + ".moving"
        shutil.copy2(source, temporary)
        stat = os.stat(source)
        os.chown(temporary, stat.st_uid, stat.st_gid)
        os.replace(temporary, dest)
        os.unlink(source)


def _copy(source, dest):
    """A copy of ``source`` at ``dest`` with its mode, times and owner."""
    shutil.copy2(source, dest)
    stat = os.stat(source)
    os.chown(dest, stat.st_uid, stat.st_gid)


def keep(point, replaced, check_mode=False):
    """After a switch: ``replaced`` (the unit's backup) becomes the point; the point it replaces
    waits as ``.older``. Returns changed."""
    if not os.path.exists(replaced):
        raise PointError("the replaced unit %s is not there" % replaced)
    if check_mode:
        return True
    try:
        os.makedirs(os.path.dirname(point), mode=0o755, exist_ok=True)
        if os.path.lexists(_older(point)):
            os.unlink(_older(point))
        if os.path.lexists(point):
            os.replace(point, _older(point))
        _move(replaced, point)
    except OSError as exc:
        raise PointError("cannot keep %s as the rollback point %s: %s" % (replaced, point, exc.strerror or exc))
    return True


def swap(point, unit, check_mode=False):
    """A rollback: the point becomes the unit, and the unit it replaces becomes the point (so a
    second rollback returns to it). Returns changed."""
    if not os.path.isfile(point):
        raise PointError("there is no rollback point at %s" % point)
    for path in (point, unit):
        if os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
            raise PointError("%s is not a regular file; nothing was swapped" % path)
    if check_mode:
        return True
    swapping = point + ".swapping"
    try:
        if os.path.lexists(swapping):
            os.unlink(swapping)
        if os.path.exists(unit):
            _copy(unit, swapping)
        _move(point, unit)
        if os.path.lexists(swapping):
            os.replace(swapping, point)
    except OSError as exc:
        raise PointError("cannot swap the unit %s and the rollback point %s: %s" % (unit, point, exc.strerror or exc))
    return True


def restore(point, check_mode=False):
    """After an automatic rollback: the point the host had before this run comes back (``.older``),
    or none where it had none. Returns changed."""
    older = _older(point)
    if not os.path.lexists(older) and not os.path.lexists(point):
        return False
    if check_mode:
        return True
    try:
        if os.path.lexists(older):
            os.replace(older, point)
        else:
            os.unlink(point)
    except OSError as exc:
        raise PointError("cannot restore the rollback point %s: %s" % (point, exc.strerror or exc))
    return True
