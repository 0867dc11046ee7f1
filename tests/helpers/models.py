"""Models, versions and wheels made here: copies and variants of the tiny AWQ model, the role
variables that point at them, version directories for pruning, and wheels built by hand (test
stand-ins for packages from PyPI: no index is reached)."""
import os
import shutil
import zipfile

INDEX = "model.safetensors.index.json"
# Version ids (12 hex) for prune tests, oldest first.
IDS = ["%012x" % n for n in range(0xa0, 0xa8)]


def copy_model(src, dst):
    dst.mkdir()
    for name in os.listdir(src):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def variant(tiny_model, tmp_path, tag):
    """A copy of the tiny model that is a different version (one more file)."""
    path = tmp_path / ("src-" + tag)
    shutil.copytree(tiny_model, path)
    (path / "variant.txt").write_text(tag * 3)
    return path


def model_vars(tmp_path, source, **more):
    """awq_model's variables for a local source under tmp_path."""
    return {"awq_model_root": str(tmp_path / "models"), "awq_model_name": "tiny", "awq_model_source": "local",
            "awq_model_local_path": str(source), "awq_model_min_free_gb": 0, **more}


def url_vars(tmp_path, url, sha256):
    """awq_model's variables for a url source (an archive with the model under tiny-awq/)."""
    return {"awq_model_root": str(tmp_path / "models"), "awq_model_name": "tiny", "awq_model_source": "url",
            "awq_model_url": url, "awq_model_url_sha256": sha256, "awq_model_url_subdir": "tiny-awq",
            "awq_model_min_free_gb": 0}


def make_versions(versions, *names):
    """Version directories, oldest first (mtimes one minute apart), each with a file in it."""
    made = []
    for age, name in enumerate(reversed(names)):
        path = versions / name
        path.mkdir(parents=True)
        (path / "config.json").write_text("{}")
        os.utime(path, (1_700_000_000 - 60 * age,) * 2)
        made.append(path)
    return list(reversed(made))


def left(versions):
    return sorted(p.name for p in versions.iterdir())


def wheel(directory, name, version, files, requires=()):
    """A minimal, valid wheel (a test stand-in for a package from PyPI)."""
    dist = "%s-%s" % (name.replace("-", "_"), version)
    path = directory / ("%s-py3-none-any.whl" % dist)
    files = dict(files)
    files["%s.dist-info/METADATA" % dist] = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
        name, version, "".join("Requires-Dist: %s\n" % requirement for requirement in requires))
    files["%s.dist-info/WHEEL" % dist] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files["%s.dist-info/RECORD" % dist] = "".join("%s,,\n" % f for f in list(files) + ["%s.dist-info/RECORD" % dist])
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def fake_vllm_wheel(wheelhouse, version):
    """A wheel of a package named vllm (an `import vllm` that works)."""
    return wheel(wheelhouse, "vllm", version, {"vllm/__init__.py": "__version__ = %r\n" % version})
