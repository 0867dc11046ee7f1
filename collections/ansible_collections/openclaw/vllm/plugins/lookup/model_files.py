# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: model_files
short_description: List a local model directory on the controller, as awq_model identifies it
version_added: "1.1.0"
description:
  - Every regular file under the directory (recursively, hidden ones too, links not followed) with
    its C(path), C(size) and C(mtime), and again the files up to O(hash_max_mb) with their C(checksum)
    (sha1). This is what C(ansible.builtin.find) gives with C(recurse) and C(hidden), and the second
    time C(size=-<N>m) and C(get_checksum), field for field.
  - Read in the controller's own process, so it costs no module run per host. The role
    C(openclaw.vllm.awq_model) reads a local model this way; each host reads its own directory.
options:
  _terms:
    description: The model directory on the controller (one).
    type: list
    elements: path
    required: true
  hash_max_mb:
    description: Hash the files up to this many MiB; V(0) hashes none (the second listing is empty).
    type: int
    default: 64
author:
  - openclaw.vllm contributors (@openclaw)
"""

EXAMPLES = r"""
- name: The files of a model directory, and the sha1 of the small ones
  ansible.builtin.debug:
    msg: "{{ (listing.results[1].files | default([])) | map(attribute='checksum') }}"
  vars:
    listing: "{{ lookup('openclaw.vllm.model_files', '/srv/models/qwen-awq', hash_max_mb=64) }}"
"""

RETURN = r"""
_raw:
  description:
    - One mapping with C(results), two listings as C(ansible.builtin.find) returns them (C(files),
      C(matched), C(examined), C(skipped_paths)); the second is empty when O(hash_max_mb) is V(0).
    - A missing or unreadable directory gives no files and the reason in C(skipped_paths).
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.openclaw.vllm.plugins.module_utils.model_files import model_files


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1 or not isinstance(terms[0], str) or not terms[0]:
            raise AnsibleLookupError("model_files: expected one directory, got %r" % (terms,))
        hash_max_mb = self.get_option("hash_max_mb")
        if hash_max_mb < 0:
            raise AnsibleLookupError("model_files: hash_max_mb is %d, expected 0 or more" % hash_max_mb)
        path = os.path.expanduser(os.path.expandvars(terms[0]))
        try:
            return [{"results": model_files(path, hash_max_mb * 1024 * 1024)}]
        except ValueError as exc:
            raise AnsibleLookupError("model_files: %s" % exc)
