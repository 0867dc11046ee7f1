# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listing of a local model directory on the controller that awq_model's identity of a local
model rests on: every regular file's path, size and mtime, and the sha1 of those up to a size.

It gives what ``ansible.builtin.find`` (recurse, hidden, file_type file, not following links; then
again with ``size: -<N>m`` and ``get_checksum``) gives, field for field, so a model listed either
way has the same identity and a host provisioned before keeps its version (tests/unit/
test_model_files.py compares the two). Read in the controller's own process by the model_files
lookup: no module to build and run for each host (about 0.9 s of the controller's CPU per host
for the two finds it replaces).
"""

from __future__ import annotations

import hashlib
import os
import stat

BLOCK = 64 * 1024


def sha1_of(path):
    digest = hashlib.sha1()
    with open(os.path.realpath(path), "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_name(full):
    """A name that is not UTF-8 cannot go into the model's identity or onto the host as it is."""
    try:
        full.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("%s holds a file name that is not UTF-8: %s"
                         % (os.path.dirname(full).encode("utf-8", "replace").decode("utf-8"),
                            ascii(os.path.basename(full))))


def model_files(path, hash_max_bytes):
    """[every file, the files up to hash_max_bytes with their sha1] as two find results
    ({files, matched, examined, skipped_paths}); the second is {} when hash_max_bytes <= 0.
    ValueError for a file name that is not UTF-8 (ansible.builtin.find could not return it either)."""
    every, small, skipped, examined = [], [], {}, 0

    def walk_error(error):
        skipped[error.filename] = str(error)

    if not os.path.isdir(path):
        skipped[path] = "'%s' is not a directory" % path
    else:
        for root, dirs, files in os.walk(path, onerror=walk_error, followlinks=False, topdown=True):
            examined += len(files) + len(dirs)
            for name in files + dirs:
                full = os.path.normpath(os.path.join(root, name))
                _check_name(full)
                try:
                    info = os.lstat(full)
                except OSError as error:
                    skipped[full] = str(error)
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                entry = {"path": full, "size": info.st_size, "mtime": info.st_mtime}
                every.append(entry)
                if hash_max_bytes > 0 and info.st_size <= hash_max_bytes:
                    small.append(dict(entry, checksum=sha1_of(full)))

    def result(files):
        return {"files": files, "matched": len(files), "examined": examined, "skipped_paths": skipped}

    return [result(every), result(small) if hash_max_bytes > 0 else {}]
