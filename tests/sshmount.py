"""A second client of one filesystem: a directory mounted again through sshfs.

``with sshfs_mount(tmp_path, directory) as mnt:`` starts a private sshd on a
loopback port (its own host key, a throwaway client key, nothing of the
machine's ssh setup touched) and mounts ``directory`` at ``mnt`` through sshfs
with sshfs's default caches. That is the login node's view of a run directory
a compute node writes: a stat() of a file another client appended to reports
the old size for up to sshfs's 20 s attribute cache, as on NFS with
``actimeo``, while opening and reading the file sees the new bytes. A writer
on ``directory`` itself plays the compute node.

Root only (sshd, mount): `needs_sshfs` skips elsewhere; scripts/test.sh installs
sshfs and openssh-server as root, so CI never skips. A daemon or mount that
does not come up is a test failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
needs_sshfs = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse"),
    reason="sshfs over a private sshd needs root and /dev/fuse",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, ready: object, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while not ready():  # type: ignore[operator]
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come up: {log.read_text(errors='replace')}")
        time.sleep(0.05)


@contextmanager
def sshfs_mount(base: Path, directory: Path) -> Iterator[Path]:
    """``directory`` mounted through sshfs at ``base/mnt``; both gone afterwards."""
    assert shutil.which("sshfs") and os.path.exists(SSHD), "scripts/test.sh installs them"
    keys = base / "ssh"
    keys.mkdir(parents=True)
    os.chmod(keys, 0o700)
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)],
                       check=True)
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    port = _free_port()
    config = keys / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {keys / 'host'}
AuthorizedKeysFile {keys / 'authorized_keys'}
PidFile {keys / 'sshd.pid'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
""")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    log = keys / "sshd.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=out,
                                stderr=subprocess.STDOUT)
    mnt = base / "mnt"
    mnt.mkdir()
    mounted = None
    try:
        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        _wait("sshd", listening, sshd, log)
        mount_log = keys / "sshfs.log"
        with open(mount_log, "wb") as out:
            mounted = subprocess.Popen(
                ["sshfs", "-f", f"root@127.0.0.1:{directory}", str(mnt), "-p", str(port),
                 "-o", f"IdentityFile={keys / 'client'},StrictHostKeyChecking=no,"
                       "UserKnownHostsFile=/dev/null,LogLevel=ERROR"],
                stdout=out, stderr=subprocess.STDOUT)
        _wait("sshfs", lambda: os.path.ismount(mnt), mounted, mount_log)
        yield mnt
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)
        for proc in (mounted, sshd):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
