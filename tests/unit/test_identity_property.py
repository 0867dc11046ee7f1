"""Property tests of the guard's identity rule and kill list (hypothesis, fixed seed, bounded).

The argv of each example is built from parts whose meaning is known by construction
(directories, a name, an interpreter with options, the program it runs, trailing
arguments), so the expected identity needs no parser. The documented rule:

* identity = argv[0]'s basename, never a directory;
* when that basename is a Python interpreter (python, python3, python3.N, pypy3), the
  identity is the module after -m, or the basename of the script; -c code and no program
  leave the interpreter's name;
* vllm_like = same uid AND identity matches a default pattern, ASCII case-insensitively:
  vllm, vllm-*, vllm.*, vllm::*, openclaw*.
"""
import json
import os
import re
import subprocess
import sys
import threading

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st


from helpers.paths import HOLDER
from helpers.procs import free_port

from ansible_collections.openclaw.vllm.plugins.module_utils.host.argv import identity_names
from ansible_collections.openclaw.vllm.plugins.module_utils.host.events import EventLog
from ansible_collections.openclaw.vllm.plugins.module_utils.host.patterns import DEFAULT_PATTERNS, matching_pattern, pattern_matches
from ansible_collections.openclaw.vllm.plugins.module_utils.host.reclaim import run_guard

NAMES = ["vllm", "VLLM", "vllm-stray", "vllm.entrypoints.openai.api_server", "VLLM::EngineCore", "VLLM::Worker_TP0",
         "openclaw-vllm", "OpenClaw", "sleep", "nginx", "http.server", "holder.py", "python-proxy", "python3-proxy",
         "my-vllm", "vllmx", "vllm_", "xvllm", "v-llm", "vl1m",
         "\u212allm", "\uff56llm", "v\u217clm", "\u0475llm", "vllm\u200b-x", "\u0130penclaw",  # look-alikes
         "vllm\udcff", "\udcffvllm", "unknown\udcfe\udcc3", "x" * 5000]
DIRS = ["vllm", "openclaw-vllm", "vllm.d", ".venv", "bin", "vllm-env", "opt", "..", ".", "VLLM::EngineCore",
        "\udcff", "openclaw"]
INTERPRETERS = ["python", "python3", "python3.11", "python3.12", "pypy3", "Python3"]
NOT_INTERPRETERS = ["python-proxy", "python3-proxy", "pythonx", "python3.x", "py", "ipython", "python3.11-config"]

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), min_size=1,
               max_size=12)
name = st.one_of(st.sampled_from(NAMES), text)
directory = st.lists(st.one_of(st.sampled_from(DIRS), text), max_size=3)


# The documented interpreter names, case-insensitively ("Python3" is one): a drawn program name
# that happens to be one (hypothesis also draws the source's own constants, "python" among them)
# is an interpreter, not a plain program, and is drawn again.
DOCUMENTED_INTERPRETER = re.compile(r"(python|pypy)([0-9]+(\.[0-9]+)*)?", re.IGNORECASE)
plain_program = st.one_of(name, st.sampled_from(NOT_INTERPRETERS)).filter(
    lambda base: not DOCUMENTED_INTERPRETER.fullmatch(base))


def is_default_vllm(identity):
    lowered = "".join(c.lower() if "A" <= c <= "Z" else c for c in identity)
    return lowered == "vllm" or lowered.startswith(("vllm-", "vllm.", "vllm::", "openclaw"))


@st.composite
def argv_with_identity(draw):
    """(argv, expected identity)."""
    dirs = draw(directory)
    absolute = draw(st.booleans())
    prefix = ("/" if absolute else "") + "".join(d + "/" for d in dirs)
    tail = draw(st.lists(st.one_of(st.sampled_from(NAMES + ["--config", "vllm.yaml", "-m", "-c"]), text),
                         max_size=3))
    if not draw(st.booleans()):
        base = draw(plain_program)
        return [prefix + base] + tail, base
    interpreter = draw(st.sampled_from(INTERPRETERS))
    options = draw(st.lists(st.one_of(
        st.sampled_from([["-I"], ["-u"], ["-E"], ["-s"], ["-B"], ["-O"], ["-OO"], ["-Iu"]]),
        st.tuples(st.sampled_from(["-X", "-W"]), name).map(list),
        name.map(lambda value: ["-X" + value.replace("-", "_")])), max_size=3))
    options = [part for option in options for part in option]
    program = draw(st.sampled_from(["module", "module-attached", "script", "code", "none"]))
    argv = [prefix + interpreter] + options
    if program == "module":
        module = draw(name)
        return argv + ["-m", module] + tail, module
    if program == "module-attached":
        module = draw(name)
        return argv + ["-m" + module] + tail, module
    if program == "script":
        script = draw(name)
        return argv + ["".join(d + "/" for d in draw(directory)) + script] + tail, script
    if program == "code":
        return argv + ["-c", draw(name)] + tail, interpreter
    return argv, interpreter


@seed(20261127)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv_with_identity())
def test_identity_is_the_documented_name(case):
    argv, expected = case
    names = identity_names(argv, comm="comm-is-ignored")
    assert names == [expected], argv
    assert all("/" not in n for n in names)
    vllm_like = matching_pattern(names, DEFAULT_PATTERNS) is not None
    assert vllm_like == is_default_vllm(expected), (argv, expected)


@seed(20261127)
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["*vllm*", "vllm*", "*", "*-stray", "openclaw-*", "[v]llm", "vllm-?", "*?*"]), name,
       st.lists(st.one_of(st.sampled_from(DIRS), text), min_size=1, max_size=3))
def test_star_never_matches_across_a_slash(pattern, base, dirs):
    assert not pattern_matches("/".join(dirs + [base]), pattern)


@st.composite
def holders(draw):
    """2 or 3 real holders of one port (SO_REUSEPORT), each with a drawn argv."""
    cases = draw(st.lists(argv_with_identity(), min_size=1, max_size=3))
    return [(argv[:4], expected) for argv, expected in cases]


@seed(20261127)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(holders())
def test_kill_list_holds_only_provable_strays(cases):
    """Real processes with drawn argv hold one port; the guard's kill list (check mode) must
    hold exactly the vllm_like ones when all are, and nothing otherwise. Never pid 1, never
    the guard or its ancestors, never another uid."""
    port = free_port()
    procs = []
    try:
        for argv, _expected in cases:
            proc = subprocess.Popen([sys.executable, HOLDER, "--port", str(port), "--host", "127.0.0.1", "--reuseport",
                                     "--pad", "x" * (sum(len(a.encode("utf-8", "surrogateescape")) + 1 for a in argv)),
                                     "--argv", json.dumps(argv)],
                                    stdout=subprocess.PIPE, start_new_session=True)
            assert proc.stdout.readline().startswith(b"ready")
            threading.Thread(target=proc.wait, daemon=True).start()
            procs.append(proc)
        outcome = run_guard(port, "127.0.0.1", dry_run=True,
                                       log=EventLog(stderr=False, syslog=False))
        expected_ours = {proc.pid for proc, (_argv, identity) in zip(procs, cases) if is_default_vllm(identity)}
        reclaimed = {holder.pid for holder in outcome.reclaimed}
        protected = {1, os.getpid()} | {p.pid for p in __import__("psutil").Process().parents()}
        assert not reclaimed & protected
        assert all(h.uid == os.getuid() for h in outcome.reclaimed)
        if len(expected_ours) == len(procs):
            assert outcome.exit_code == 0 and reclaimed == expected_ours, (cases, outcome.events)
        else:
            assert outcome.exit_code == 42 and reclaimed == set(), (cases, outcome.events)
    finally:
        for proc in procs:
            proc.kill()
