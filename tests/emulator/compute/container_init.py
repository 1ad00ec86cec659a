"""Runs as root in a fresh mount namespace (`unshare --mount`): builds a root filesystem and becomes the process that
lives in it, as a container runtime (or an instance's boot) would. Stdlib only.

    python -m tests.emulator.compute.container_init SPEC.json    (container.py starts it, from the repository root)

SPEC: {"root": path of an empty folder to mount the root on,
       "upper": folder for the root's own changes (copy on write over the host's filesystem: the "image"),
       "work": overlayfs work folder (same filesystem as upper),
       "binds": [[source, target, read_only], ...]   (target inside the new root),
       "uid": int, "gid": int, "cwd": "/scratch", "env": {...}, "argv": [...],
       "failed": path of a file to write when argv cannot be started}
"""

import ctypes
import ctypes.util
import json
import os
import sys

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def mount(source, target, fstype, flags, data=None):
    if _libc.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    ) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def mountpoint(target, like):
    if os.path.isdir(like):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()


def main():
    spec = json.load(open(sys.argv[1]))
    root = spec["root"]
    mount("overlay", root, "overlay", 0, f"lowerdir=/,upperdir={spec['upper']},workdir={spec['work']}")
    mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV)
    mount("/dev", os.path.join(root, "dev"), None, MS_BIND | MS_REC)
    for source, target, read_only in spec["binds"]:
        path = os.path.join(root, target.lstrip("/"))
        mountpoint(path, source)
        mount(source, path, None, MS_BIND | MS_REC)
        if read_only:
            mount(source, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    failed = os.open(spec["failed"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)  # closed on exec
    os.chroot(root)
    cwd = spec.get("cwd") or "/"
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
    os.setgroups([])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, spec["env"])
    except OSError as e:
        message = f'CannotStartContainerError: exec: "{argv[0]}": {e.strerror}'
        os.write(failed, message.encode())
        print(message, file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main()
