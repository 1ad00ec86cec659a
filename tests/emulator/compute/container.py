"""Processes with a root filesystem of their own, for the emulated instances (their user data) and containers.

No Docker here, so a "container" is a process in its own mount namespace (util-linux `unshare`, as root), chrooted
into an overlay of the host's filesystem (the "image": copy on write, so nothing it writes reaches the host), with
the bind mounts its definition asks for, running as the user it asks for, with exactly the environment it is given.
What a container writes outside its volumes stays in its own upper layer, as in Docker.

An image's PATH here holds a POSIX shell and utilities only (/opt/sandbox/posix: links to the host's sh, coreutils,
sed, awk, grep, find…): no AWS CLI and no Python, which is what a bioinformatics or distroless-with-busybox image
offers, so a task that still needed the AWS CLI would fail here. An image that ships the AWS CLI (amazon/aws-cli)
also has it at /opt/sandbox/bin/aws, on the sandbox's pinned awscli, with the Python behind it bound read-only
under /opt/sandbox; a Python image (`…/python:TAG`) has `python3` (/opt/sandbox/python-bin, the same Python without
the awscli packages).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from .. import REPO

PYTHON_PREFIX = Path(sys.base_prefix)  # the interpreter the venv was made from
SITE_PACKAGES = next(Path(sys.prefix).glob("lib/python3*/site-packages"))

#: The AWS CLI of the images that ship it.
SANDBOX_BIN = "/opt/sandbox/bin"
#: The POSIX utilities every image has.
POSIX_BIN = "/opt/sandbox/posix"
POSIX_TOOLS = """sh bash dash cat cp mv rm mkdir rmdir ln ls chmod chown touch dd head tail wc sort uniq tr cut paste sed
awk gawk mawk grep egrep fgrep find xargs tee date sleep env true false test [ expr printf echo basename dirname pwd
readlink realpath mktemp id uname seq yes kill ps stat du df md5sum sha1sum sha256sum base64 od tar gzip gunzip zcat
comm diff cmp split nproc hostname timeout nice nohup sync which tac fold rev join shuf tsort install mkfifo getconf
whoami groups touch truncate fmt nl pr csplit factor sum cksum""".split()
AWS_SHIM = f"""#!/bin/sh
# The AWS CLI of the emulated cloud's images (the sandbox's pinned awscli, on a Python bound read-only here).
PYTHONHOME=/opt/sandbox/python PYTHONPATH=/opt/sandbox/site LD_LIBRARY_PATH=/opt/sandbox/python/lib \\
  exec /opt/sandbox/python/bin/python{sys.version_info.major}.{sys.version_info.minor} -m awscli "$@"
"""


def sandbox_tools(folder: Path) -> Path:
    """The folder bound at /opt/sandbox/bin (made once per sandbox)."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "aws"
    shim.write_text(AWS_SHIM)
    shim.chmod(0o755)
    return folder


PYTHON_SHIM = f"""#!/bin/sh
# The Python of the emulated cloud's Python images (the sandbox's interpreter, bound read-only; no awscli on its path).
PYTHONHOME=/opt/sandbox/python LD_LIBRARY_PATH=/opt/sandbox/python/lib \\
  exec /opt/sandbox/python/bin/python{sys.version_info.major}.{sys.version_info.minor} "$@"
"""
PYTHON_BIN = "/opt/sandbox/python-bin"


def python_tools(folder: Path) -> Path:
    """The folder bound at /opt/sandbox/python-bin in a Python image: python3 and python (made once per sandbox)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        shim = folder / name
        shim.write_text(PYTHON_SHIM)
        shim.chmod(0o755)
    return folder


def posix_tools(folder: Path) -> Path:
    """The folder bound at /opt/sandbox/posix: a link to each POSIX utility the host has (made once per sandbox)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in POSIX_TOOLS:
        path = shutil.which(name, path="/usr/bin:/bin")
        link = folder / name
        if path and not link.exists():
            link.symlink_to(path)
    return folder


def tool_binds(folders: dict[str, Path], aws: bool, python: bool) -> list[list]:
    """The binds of an image's tools: `folders` are the sandbox's posix, aws and python tool folders."""
    binds = [[str(folders["posix"]), POSIX_BIN, True]]
    if aws or python:
        binds.append([str(PYTHON_PREFIX), "/opt/sandbox/python", True])
    if aws:
        binds += [[str(folders["aws"]), SANDBOX_BIN, True], [str(SITE_PACKAGES), "/opt/sandbox/site", True]]
    if python:
        binds.append([str(folders["python"]), PYTHON_BIN, True])
    return binds


def start(
    home: Path,
    argv: list[str],
    env: dict[str, str],
    binds: list[list],
    uid: int = 0,
    gid: int = 0,
    cwd: str = "/",
    log: Optional[Path] = None,
    upper: Optional[Path] = None,
) -> subprocess.Popen:
    """Starts `argv` in its own root under `home` (which keeps its upper layer, spec and log); its own session, so
    the whole process group can be signalled."""
    root, upper, work = home / "root", upper or (home / "upper"), home / "work"
    for folder in (root, upper, work):
        folder.mkdir(parents=True, exist_ok=True)
    for sub in ("proc", "dev"):
        (upper / sub).mkdir(exist_ok=True)
    tmp = upper / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)
    spec = {
        "root": str(root),
        "upper": str(upper),
        "work": str(work),
        "binds": binds,
        "uid": uid,
        "gid": gid,
        "cwd": cwd,
        "env": env,
        "argv": argv,
        "failed": str(home / "failed"),
    }
    spec_path = home / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    out = open(log or (home / "output.log"), "ab")  # noqa: SIM115 - handed to the child
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    # container_init runs as a module of this package, found from the repository root (its working folder until it
    # enters the new root).
    init = [sys.executable, "-m", f"{__package__}.container_init", str(spec_path)]
    return subprocess.Popen(
        [unshare, "--mount", "--propagation", "private", "--", *init],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )


def start_failure(home: Path) -> Optional[str]:
    """Why the container's process could not be started, if it could not."""
    failed = home / "failed"
    if failed.exists():
        text = failed.read_text().strip()
        return text or None
    return None


#: An instance's scratch folder is a filesystem of its own, of this many MiB per GiB of its root volume (where it is on
#: an instance: /scratch on the root volume), so that a task can fill it as one fills a disk, at a test's size.
SCRATCH_MIB_PER_GIB = 1
#: Whether the sandbox has a mount namespace of its own to mount them in (sandbox.py's main sets it).
SCRATCH_DISKS = False
_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 2, 4, 16384, 1 << 18
_MNT_DETACH = 2


def _libc():
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def own_mount_namespace() -> Optional[str]:
    """Moves this process into a mount namespace of its own, private, so that the scratch disks it mounts for its
    instances go with it, however it ends. Called before it starts a thread (a namespace is a thread's). Why it
    could not, or None."""
    import ctypes

    libc = _libc()
    if libc.unshare(_CLONE_NEWNS) != 0 or libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())}"
    return None


def mount_scratch(folder: Path, volume_gib: int) -> Optional[str]:
    """Makes `folder` a filesystem of SCRATCH_MIB_PER_GIB × `volume_gib` MiB (mode 1777, as the user data makes
    /scratch); why not, or None."""
    import ctypes

    folder.mkdir(parents=True, exist_ok=True)
    size = f"size={max(1, volume_gib) * SCRATCH_MIB_PER_GIB}m,mode=1777".encode()
    if _libc().mount(b"tmpfs", str(folder).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, size) != 0:
        return f"mount tmpfs on {folder}: {os.strerror(ctypes.get_errno())}"
    return None


def unmount_scratch(folder: Path) -> None:
    """Lets go of a scratch disk (an instance's root volume goes with it); one not mounted is fine."""
    _libc().umount2(str(folder).encode(), _MNT_DETACH)


def can_isolate() -> Optional[str]:
    """Why this machine cannot run the emulated containers, or None."""
    if os.geteuid() != 0:
        return "the emulated cloud runs its instances and containers in mount namespaces: run it as root"
    if not shutil.which("unshare"):
        return "util-linux `unshare` is missing"
    return None
