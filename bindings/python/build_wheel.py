#!/usr/bin/env python3
"""Builds the pure-Python wheel of the `secagg` package with the standard library only (no pip, no network).

    python3 bindings/python/build_wheel.py --version 0.2.0 --output dist/

writes dist/secagg_client-0.2.0-py3-none-any.whl (distribution `secagg-client`, import name `secagg`). The wheel
holds no compiled code: at run time the package loads libsecaggc.so (README: "Finding the library"). The archive is
reproducible: sorted entries, fixed timestamps and modes.
"""

import argparse
import base64
import hashlib
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DISTRIBUTION = "secagg_client"
TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def package_files(version):
    """(archive path, bytes) of the package's modules, with __version__ set to `version`."""
    folder = os.path.join(HERE, "secagg")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(folder, name), "rb") as handle:
            data = handle.read()
        if name == "__init__.py":
            data, count = re.subn(rb'(?m)^__version__ = "[^"]*"$', b'__version__ = "%s"' % version.encode(), data)
            if count != 1:
                sys.exit("build_wheel: no __version__ line in secagg/__init__.py")
        yield "secagg/" + name, data


def metadata(version):
    with open(os.path.join(HERE, "README.md"), "r", encoding="utf-8") as handle:
        readme = handle.read()
    return (
        "Metadata-Version: 2.1\n"
        "Name: secagg-client\n"
        "Version: %s\n"
        "Summary: Secure aggregation client (secagg) over the libsecaggc C ABI, with ctypes\n"
        "Requires-Python: >=3.8\n"
        "Classifier: Operating System :: POSIX :: Linux\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Description-Content-Type: text/markdown\n"
        "\n%s" % (version, readme)
    ).encode("utf-8")


def build(version, output):
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)", version):
        sys.exit("build_wheel: not a version: %r" % version)
    info = "%s-%s.dist-info" % (DISTRIBUTION, version)
    files = list(package_files(version))
    files.append((info + "/METADATA", metadata(version)))
    files.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: secagg build_wheel.py\nRoot-Is-Purelib: true\n"
                                   b"Tag: py3-none-any\n"))
    files.append((info + "/top_level.txt", b"secagg\n"))
    record = "".join("%s,%s,%d\n" % (path, record_hash(data), len(data)) for path, data in files)
    record += info + "/RECORD,,\n"
    files.append((info + "/RECORD", record.encode("utf-8")))

    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, "%s-%s-py3-none-any.whl" % (DISTRIBUTION, version))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=TIMESTAMP)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="the release (secagg_version(), e.g. 0.2.0)")
    parser.add_argument("--output", required=True, help="the folder to write the wheel into")
    arguments = parser.parse_args()
    print(build(arguments.version, arguments.output))


if __name__ == "__main__":
    main()
