"""The PEP 517 build backend of the dynhc package, standard library only.

The package is pure Python, so a wheel is a zip of dynhc/ and its metadata.
With no build requirement, `pip install ./python` works offline, build
isolation included (setuptools would have to be downloaded into the isolated
environment). The version is the one dynhc/_lib.py is written against.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _project():
    with open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read().split("[project]", 1)[1].split("\n[", 1)[0]
    fields = dict(re.findall(r'^([\w-]+) = "([^"]*)"$', text, re.M))
    with open(os.path.join(HERE, "dynhc", "_lib.py"), encoding="utf-8") as f:
        version = re.search(r"^VERSION = \((\d+), (\d+), (\d+)\)$", f.read(), re.M).groups()
    fields["version"] = ".".join(version)
    return fields


def _metadata(p):
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\nLicense: %s\n"
            "Requires-Python: %s\nClassifier: Typing :: Typed\n"
            "Description-Content-Type: text/markdown\n\n%s"
            % (p["name"], p["version"], p["description"], p["license"], p["requires-python"],
               readme))


def _package_files():
    """dynhc/*.py, py.typed and a libdynhc.so* placed next to them."""
    folder = os.path.join(HERE, "dynhc")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py") or name == "py.typed" or name.startswith("libdynhc.so"):
            yield "dynhc/" + name, os.path.join(folder, name)


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d\n" % (name, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    p = _project()
    dist_info = "%s-%s.dist-info" % (p["name"], p["version"])
    wheel_name = "%s-%s-py3-none-any.whl" % (p["name"], p["version"])
    files = [(name, open(path, "rb").read()) for name, path in _package_files()]
    files.append((dist_info + "/METADATA", _metadata(p).encode("utf-8")))
    files.append((dist_info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: dynhc build_backend\n"
                                        b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    files.append((dist_info + "/top_level.txt", b"dynhc\n"))
    record = "".join(_record_line(n, d) for n, d in files) + dist_info + "/RECORD,,\n"
    files.append((dist_info + "/RECORD", record.encode("utf-8")))
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as whl:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if ".so" in name else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    base = "%s-%s" % (p["name"], p["version"])
    name = base + ".tar.gz"
    path = os.path.join(sdist_directory, name)
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel in ("pyproject.toml", "build_backend.py", "README.md"):
            tar.add(os.path.join(HERE, rel), base + "/" + rel)
        for rel, path in _package_files():
            if not rel.startswith("dynhc/libdynhc"):
                tar.add(path, base + "/" + rel)
        data = _metadata(p).encode("utf-8")
        info = tarfile.TarInfo(base + "/PKG-INFO")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return name
