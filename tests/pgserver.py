"""A throwaway PostgreSQL server for the tests: its own data folder, port and password.

It uses the server programs on this machine (``initdb`` and ``postgres`` on the PATH, from
``pg_config --bindir``, or Debian's ``/usr/lib/postgresql/<version>/bin``). PostgreSQL refuses
to run as root: under root the server runs as the ``postgres`` user if there is one, else as
``nobody``. :func:`start` raises :class:`Unavailable` with the reason when no server can be
started, and the tests that need one skip with that reason.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here (the message says why)."""


@dataclass
class Server:
    """A running server: connect with :attr:`url` (which holds :attr:`password`)."""

    proc: subprocess.Popen
    port: int
    user: str
    password: str
    database: str
    folder: Path

    @property
    def url(self) -> str:
        return (f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/"
                f"{self.database}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients are cut off
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def _bindir() -> Path | None:
    found = shutil.which("initdb") and shutil.which("postgres")
    if found:
        return Path(shutil.which("postgres") or "").resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
            if out and (Path(out) / "initdb").is_file():
                return Path(out)
        except (OSError, subprocess.SubprocessError):
            pass
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(timeout: float = 60) -> Server:
    """Initialise and start a server in a new temporary folder; raises :class:`Unavailable`.

    The folder is made directly in the system's temporary folder (the server's account must
    reach it) and removed by :meth:`Server.stop`.
    """
    import pwd
    import tempfile

    bindir = _bindir()
    if bindir is None:
        raise Unavailable("no PostgreSQL server programs (initdb, postgres) on this machine; "
                          "install Debian's postgresql package (or your system's) to run "
                          "these tests")
    demote = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            try:
                account = pwd.getpwnam("nobody")
            except KeyError:
                raise Unavailable("running as root, and no 'postgres' or 'nobody' account "
                                  "to run the server as") from None
        uid, gid = account.pw_uid, account.pw_gid

        def demote() -> None:
            os.setgid(gid)
            os.setuid(uid)

    folder = Path(tempfile.mkdtemp(prefix="evalkit-pg-"))
    data = folder / "data"
    pwfile = folder / "pw"
    password = "pw-" + secrets.token_hex(12)
    pwfile.write_text(password + "\n")
    if demote is not None:
        os.chmod(folder, 0o755)
        for p in (folder, pwfile):
            os.chown(p, uid, gid)
    user = "evalkit_test"
    try:
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", user,
                        f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                        "--no-sync"],
                       check=True, capture_output=True, timeout=120, preexec_fn=demote)
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        raise Unavailable(f"initdb failed: {exc} {detail.decode(errors='replace')[-400:]}"
                          ) from None
    port = _free_port()
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen(
        [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=demote)
    server = Server(proc, port, user, password, "postgres", folder)
    end = time.monotonic() + timeout
    import psycopg

    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=user, password=password,
                                 dbname="postgres", connect_timeout=2):
                return server
        except psycopg.OperationalError as exc:
            if proc.poll() is not None or time.monotonic() > end:
                server.stop()
                tail = (folder / "server.log").read_text(errors="replace")[-400:]
                raise Unavailable(f"the server did not start: {exc}; log: {tail}") from None
            time.sleep(0.2)
