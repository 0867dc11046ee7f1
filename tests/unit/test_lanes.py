"""The lane rules (module_utils/lanes.py) and the lanes filter as Ansible loads it: the default lane
keeps a host's unit and files, every field a lane leaves out comes from the role's single-lane
values, every problem is named with its lane and field, and lanes sharing a GPU must fit in it."""
import pytest

from ansible_collections.openclaw.vllm.plugins.module_utils import lanes as rules
from helpers.ansible_runs import run_module

DEFAULTS = {"port": 8001, "model": "/var/lib/openclaw-vllm/models/qwen2.5-14b-instruct-awq", "gpus": [],
            "gpu_memory_utilization": 0.85, "served_model_name": "local-assistant", "extra_args": []}


def problems(spec, **options):
    with pytest.raises(rules.LaneError) as raised:
        rules.lanes(spec, DEFAULTS, **options)
    return raised.value.problems


@pytest.mark.parametrize("spec", [None, []])
def test_no_list_is_the_one_lane_a_host_has_today(spec):
    assert rules.lanes(spec, DEFAULTS) == [dict(
        DEFAULTS, name="default", gpus=[], state="present", unit="openclaw-vllm.service", config_dir="",
        start_after=[])]


def test_a_lane_takes_what_it_leaves_out_from_the_defaults_and_gets_its_own_unit():
    chat, code = rules.lanes([
        {"name": "chat", "gpus": [0], "gpu_memory_utilization": "0.45"},
        {"name": "code", "port": "8002", "model": "/m/coder", "gpus": ["0"], "gpu_memory_utilization": 0.45,
         "served_model_name": "coder", "extra_args": ["--max-num-seqs", 4]},
    ], DEFAULTS)
    assert chat == dict(DEFAULTS, name="chat", gpus=["0"], gpu_memory_utilization=0.45, state="present",
                        unit="openclaw-vllm-chat.service", config_dir="lanes/chat", start_after=[])
    assert (code["port"], code["model"], code["served_model_name"], code["extra_args"], code["unit"]) == (
        8002, "/m/coder", "coder", ["--max-num-seqs", "4"], "openclaw-vllm-code.service")
    assert code["start_after"] == ["chat"], "code shares GPU 0 with chat, listed before it"


def test_a_lane_starts_after_the_lanes_before_it_on_its_gpus():
    found = rules.lanes([
        {"name": "a", "gpus": [0], "gpu_memory_utilization": 0.3},
        {"name": "b", "port": 8002, "gpus": [1], "gpu_memory_utilization": 0.3},
        {"name": "gone", "port": 8003, "gpus": [0], "state": "absent"},
        {"name": "c", "port": 8004, "gpus": [1, 0], "gpu_memory_utilization": 0.3},
        {"name": "all", "port": 8005, "gpus": [], "gpu_memory_utilization": 0.3},
        {"name": "d", "port": 8006, "gpus": [2], "gpu_memory_utilization": 0.3},
    ], DEFAULTS)
    assert {lane["name"]: lane["start_after"] for lane in found} == {
        "a": [], "b": [], "gone": [], "c": ["a", "b"], "all": ["a", "b", "c"], "d": ["all"]}


def test_every_problem_is_named_with_its_lane_and_field_at_once():
    found = problems([
        {"name": "a", "port": 0},
        {"name": "b", "port": "http", "gpus": "0", "gpu_memory_utilization": 1.5},
        {"name": "c", "model": "", "served_model_name": None, "extra_args": "--x", "state": "gone", "colour": 1},
        {"name": "Bad_Name"},
        "lane",
    ])
    assert found == [
        "lane 'a': port is 0, expected an integer in 1..65535",
        "lane 'b': port is 'http', expected an integer in 1..65535",
        "lane 'b': gpus is '0', expected a list of GPU indexes or UUIDs",
        "lane 'b': gpu_memory_utilization is 1.5, expected a share of each GPU's memory in (0, 1] "
        "(or null: vLLM's default)",
        "lane 'c': unknown field colour (expected %s)" % ", ".join(rules.FIELDS),
        "lane 'c': model is '', expected a non-empty string",
        "lane 'c': served_model_name is None, expected a non-empty string",
        "lane 'c': extra_args is '--x', expected a list of strings",
        "lane 'c': state is 'gone', expected present or absent",
        "lane 4: name 'Bad_Name': expected lowercase letters, digits and inner dashes (at most 32)",
        "lane 5 is str, expected a mapping",
    ]


@pytest.mark.parametrize("value", [True, None, "", "x" * 33, "-a", "a-", "a.b", "a/b"])
def test_a_name_that_cannot_be_a_unit_name_is_refused(value):
    assert problems([{"name": value}]) == [
        "lane 1: name %r: expected lowercase letters, digits and inner dashes (at most 32)" % (value,)]


def test_names_and_present_ports_are_each_lanes_own():
    assert problems([{"name": "a"}, {"name": "a", "port": 8002}, {"name": "b", "port": 8001}], gpu_budget=False) == [
        "lane 'a' is listed 2 times (each lane needs its own name)",
        "lanes 'a' and 'b': the same port 8001 (each lane needs its own)",
    ]
    # A lane being removed gives its port up in the same run.
    removed = rules.lanes([{"name": "a", "state": "absent"}, {"name": "b"}], DEFAULTS, gpu_budget=False)
    assert [(lane["name"], lane["port"], lane["state"]) for lane in removed] == [
        ("a", 8001, "absent"), ("b", 8001, "present")]


def test_lanes_sharing_a_gpu_must_fit_in_it_and_the_figures_are_named():
    assert problems([
        {"name": "chat", "gpus": [0, 1], "gpu_memory_utilization": 0.5},
        {"name": "code", "port": 8002, "gpus": [1], "gpu_memory_utilization": 0.6},
        {"name": "spare", "port": 8003, "gpus": ["GPU-9a1f"], "gpu_memory_utilization": 0.9},
    ]) == ["GPU 1 is over-committed: lane 'chat' 0.50 + lane 'code' 0.60 = 1.10 of its memory, more than all of "
           "it (1.00); lower their gpu_memory_utilization or give them other GPUs"]


def test_budgets_that_add_up_to_exactly_all_of_a_gpu_fit():
    fit = rules.lanes([{"name": "a", "gpus": [0], "gpu_memory_utilization": 0.45},
                       {"name": "b", "port": 8002, "gpus": [0], "gpu_memory_utilization": 0.55}], DEFAULTS)
    assert [lane["name"] for lane in fit] == ["a", "b"]


def test_a_null_share_is_vllms_default_in_the_budget_and_stays_null():
    spec = [{"name": "a", "gpus": [0], "gpu_memory_utilization": None},
            {"name": "b", "port": 8002, "gpus": [0], "gpu_memory_utilization": 0.1}]
    assert problems(spec) == [
        "GPU 0 is over-committed: lane 'a' 0.92 + lane 'b' 0.10 = 1.02 of its memory, more than all of it (1.00); "
        "lower their gpu_memory_utilization or give them other GPUs"]
    fit = rules.lanes(spec, DEFAULTS, default_utilization=0.85)
    assert [lane["gpu_memory_utilization"] for lane in fit] == [None, 0.1]
    # On CPU hosts (no budget) null is what the single lane passes: vLLM's default, no flag.
    assert rules.lanes(spec, dict(DEFAULTS, gpu_memory_utilization=None), gpu_budget=False)[0][
        "gpu_memory_utilization"] is None


def test_a_lane_with_no_gpus_listed_shares_every_gpu():
    found = problems([{"name": "all", "gpu_memory_utilization": 0.6},
                      {"name": "one", "port": 8002, "gpus": [3], "gpu_memory_utilization": 0.5},
                      {"name": "also-all", "port": 8003, "gpu_memory_utilization": 0.5}])
    assert [problem.split(" is over-committed: ")[0] for problem in found] == ["GPU 3", "every GPU"]
    assert "lane 'one' 0.50 + lane 'all' 0.60 + lane 'also-all' 0.50 = 1.60" in found[0]


def test_absent_lanes_and_cpu_hosts_take_no_budget():
    both = [{"name": "a", "gpus": [0]}, {"name": "b", "port": 8002, "gpus": [0]}]  # 0.85 each
    assert len(problems(both)) == 1
    assert len(rules.lanes(both, DEFAULTS, gpu_budget=False)) == 2
    assert len(rules.lanes([both[0], dict(both[1], state="absent")], DEFAULTS)) == 2


@pytest.mark.ansible
def test_the_filter_as_ansible_loads_it():
    defaults = "{'port': 8001, 'model': '/m/q', 'gpus': [0], 'gpu_memory_utilization': 0.85, " \
               "'served_model_name': 'local-assistant', 'extra_args': []}"
    result = run_module("ansible.builtin.debug", {
        "msg": "{{ [{'name': 'default', 'gpu_memory_utilization': 0.4}, {'name': 'code', 'port': 8002, "
               "'gpu_memory_utilization': 0.4}] | openclaw.vllm.lanes(%s) | map(attribute='unit') }}" % defaults})
    assert result["msg"] == ["openclaw-vllm.service", "openclaw-vllm-code.service"]
    failed = run_module("ansible.builtin.debug", {
        "msg": "{{ [{'name': 'a'}, {'name': 'b', 'port': 8002}] | openclaw.vllm.lanes(%s) }}" % defaults})
    assert failed.get("failed") and "lanes: GPU 0 is over-committed: lane 'a' 0.85 + lane 'b' 0.85" in failed["msg"]
