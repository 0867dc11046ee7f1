# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the hf_model_progress module and shows its result at the default verbosity.

A play follows a long download with ``until: not result.running``. Ansible prints each retry
as one line, and adds the result only when the result asks for it (as ``debug`` does), so the
operator sees bytes done of total per host at every poll instead of a play that looks hung.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        result.update(self._execute_module(module_name="openclaw.vllm.hf_model_progress",
                                           module_args=self._task.args, task_vars=task_vars))
        result["_ansible_verbose_always"] = True
        return result
