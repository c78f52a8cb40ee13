"""Builds libzenith.so from the repository's zenith.c (two directories up, or $ZENITH_SRC) with
the system C compiler and bundles it inside the package, next to zenith/__init__.py, which
loads it first. Needs cc, liburing-dev and libnuma-dev. The metadata is in pyproject.toml.

setuptools' build and egg-info directories go to a temporary directory, not the source tree."""
import atexit
import os
import shlex
import shutil
import subprocess
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.environ.get("ZENITH_SRC", os.path.join(HERE, "..", "..")))


def _libs():
    """-luring (pkg-config's flags where it knows liburing), -lnuma, -pthread, -lm."""
    try:
        uring = subprocess.run(["pkg-config", "--libs", "liburing"], check=True, capture_output=True,
                               text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        uring = ["-luring"]
    return uring + ["-lnuma", "-pthread", "-lm"]


class BuildWithLibrary(build_py):
    """build_py, then compiles zenith.c into <build>/zenith/libzenith.so (as `make shared`)."""

    def run(self):
        super().run()
        src = os.path.join(SRC, "zenith.c")
        if not os.path.exists(src):
            raise SystemExit("zenith: %s not found: build from the Zenith repository (pip install ./bindings/python) "
                             "or set ZENITH_SRC to the directory holding zenith.c and the headers" % src)
        out = os.path.join(self.build_lib, "zenith", "libzenith.so")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        cc = shlex.split(os.environ.get("CC", "cc"))
        cflags = shlex.split(os.environ.get("CFLAGS", "-O2 -g"))
        cmd = cc + ["-std=c11"] + cflags + ["-I", SRC, "-fPIC", "-fvisibility=hidden", "-DZENITH_SHARED",
                                            "-DZENITH_PLUGINS", "-shared", "-Wl,-soname,libzenith.so.0", src, "-o",
                                            out] + _libs()
        print(" ".join(cmd))
        subprocess.run(cmd, check=True)


class BinaryDistribution(Distribution):
    """The wheel carries a native library: tag it for this platform, not py3-none-any."""

    def has_ext_modules(self):
        return True


_tmp = tempfile.mkdtemp(prefix="zenith-py-build-")
atexit.register(shutil.rmtree, _tmp, True)

setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution,
      options={"build": {"build_base": os.path.join(_tmp, "build")}, "egg_info": {"egg_base": _tmp}})
