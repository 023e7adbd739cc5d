"""One writer per run directory, across processes and machines that share the run cache.

A run is executed under :func:`exclusive` on its directory's ``.lock`` file, so that two notebook
kernels, two SLURM jobs or two users asking for the same config never compute it twice or write
over each other. Two mechanisms, chosen per file system:

* ``flock`` on the lock file. On local disks this is the kernel's lock; on NFS, Linux clients turn
  it into a POSIX byte-range lock that the server arbitrates (NLM on NFSv3, leases on NFSv4), so it
  holds across machines. The kernel drops it when its process dies, also when SLURM kills a job.
* A lease file, where the file system refuses locks (``ENOLCK``, ``EOPNOTSUPP``, ``ENOSYS``: NFS
  mounted ``nolock``, some parallel file systems without their flock option). The holder creates
  ``.lock.lease`` with ``O_CREAT | O_EXCL`` (atomic on NFSv3+ and on local disks), writes its host,
  pid and time into it, and refreshes its modification time every :data:`LEASE_REFRESH_S` seconds
  from a background thread. A waiter that finds the lease untouched for :data:`LEASE_STALE_S`
  seconds (its holder was killed, or its machine died) takes it over: it renames the stale lease
  to a name of its own -- one rename wins -- and creates its own.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

#: errors by which a file system says it does not lock files
NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
LEASE_REFRESH_S = 30.0
LEASE_STALE_S = 300.0
POLL_S = 0.5


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[str]:
    """Hold the lock on ``lock_path`` (created if absent) for the ``with`` block; waits for the
    current holder. Yields the mechanism used: ``"flock"`` or ``"lease"``."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as error:
            if error.errno not in NO_LOCKS:
                raise
            log.info("%s: the file system refuses locks (%s); using a lease file", lock_path, error.strerror)
        else:
            try:
                yield "flock"
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
            return
    with lease(lock_path.with_name(lock_path.name + ".lease")):
        yield "lease"


@contextlib.contextmanager
def lease(path: Path, stale_after_s: float | None = None, refresh_s: float | None = None) -> Iterator[None]:
    """Hold the lease file ``path`` (see the module docstring) for the ``with`` block."""
    stale_after_s = LEASE_STALE_S if stale_after_s is None else stale_after_s
    refresh_s = LEASE_REFRESH_S if refresh_s is None else refresh_s
    owner = f"{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"
    while not _create(path, owner):
        _take_over_if_stale(path, stale_after_s)
        time.sleep(POLL_S)
    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(refresh_s):
            with contextlib.suppress(OSError):
                os.utime(path)

    keeper = threading.Thread(target=refresh, name=f"lease {path.name}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
        with contextlib.suppress(OSError):
            if path.read_text().startswith(owner):  # never remove a lease taken over from us
                path.unlink()


def _create(path: Path, owner: str) -> bool:
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as stream:
        stream.write(f"{owner} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
    return True


def _take_over_if_stale(path: Path, stale_after_s: float) -> None:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return
    if age < stale_after_s:
        return
    # of several waiters renaming the same stale lease, exactly one succeeds
    grave = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, grave)
    except FileNotFoundError:
        return
    try:
        holder, renamed_age = grave.read_text().strip(), time.time() - grave.stat().st_mtime
    except FileNotFoundError:
        return
    if renamed_age < stale_after_s:
        # another waiter took the stale lease over between our look and our rename: what we
        # renamed is its fresh lease; give it back (a hard link creates ``path`` only if absent)
        with contextlib.suppress(FileExistsError):
            os.link(grave, path)
        grave.unlink(missing_ok=True)
        return
    log.warning("%s: lease of %s untouched for %.0f s; taking it over", path, holder, age)
    grave.unlink(missing_ok=True)
