"""Units of work on Dask distributed: the client (a local cluster or a running
scheduler, checked before anything is written) and :func:`map_units`, which
keeps a bounded window of units in flight. The machinery of sweeps and of
the repetitions of :mod:`simulation.risk`."""

from __future__ import annotations

import contextlib
import logging
import socket
import time

from .errors import ClusterError, OutputError

#: What Dask and its worker processes said while a sweep or an estimate ran,
#: in its output folder (only when they said something: a failed unit's
#: traceback, lost workers).
CLUSTER_LOG = "cluster.log"
#: Units in flight at once (at least; 4 per worker thread when more): what
#: bounds the driver's and the scheduler's memory, whatever the sweep's size.
WINDOW = 200


def check_scheduler(address: str, timeout: float = 3.0) -> None:
    """Check a scheduler address before anything is written: its form
    (``tcp://HOST:PORT`` or ``tls://HOST:PORT``), the TLS settings a ``tls``
    address needs, and that something listens there (within ``timeout`` s)
    and, for ``tcp``, greets as a Dask server does (a silent or foreign
    server would make the Dask client wait without end).

    TLS uses the usual Dask security configuration
    (``distributed.comm.tls.ca-file``, ``.client.cert``, ``.client.key``, e.g.
    from ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``).
    """
    scheme, sep, rest = address.partition("://")
    host, colon, port = rest.rpartition(":")
    if not sep or scheme not in ("tcp", "tls") or not colon or not host \
            or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"scheduler address {address!r}: expected tcp://HOST:PORT or "
                           "tls://HOST:PORT")
    if scheme == "tls":
        import dask

        needed = {"distributed.comm.tls.ca-file": "a CA file",
                  "distributed.comm.tls.client.cert": "a client certificate"}
        missing = [what for key, what in needed.items() if not dask.config.get(key, None)]
        if missing:
            raise ClusterError(
                f"scheduler {address}: TLS needs {' and '.join(missing)}; set "
                "distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and "
                "distributed.comm.tls.client.key in the Dask configuration (e.g. "
                "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=...)")
    try:
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    except OSError as exc:
        raise ClusterError(f"scheduler {address}: cannot connect "
                           f"({exc.strerror or exc or 'timed out'})") from None
    with sock:
        if scheme == "tcp" and not _greets_like_dask(sock):
            # Dask's client would wait for such a server without end.
            raise ClusterError(f"scheduler {address}: something listens there but did not "
                               f"answer as a Dask scheduler within {timeout:g} s")


def _greets_like_dask(sock) -> bool:
    """Whether a fresh TCP connection receives what a Dask server sends
    first: its handshake, a message whose 8-byte little-endian length
    header is small."""
    header = b""
    try:
        while len(header) < 8:
            chunk = sock.recv(8 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:  # a timeout included
        return False
    return int.from_bytes(header, "little") < 2**24


def _client(workers: int | None, scheduler: str | None, timeout: float):
    from distributed import Client, LocalCluster

    if scheduler:
        check_scheduler(scheduler, timeout)
        try:
            return Client(scheduler, timeout=f"{timeout}s"), None
        except Exception as exc:  # something listens there (checked), but not Dask
            raise ClusterError(f"scheduler {scheduler}: something listens there but did "
                               f"not answer as a Dask scheduler within {timeout:g} s "
                               f"({type(exc).__name__})") from None
    cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _live_workers(client, scheduler: str | None) -> int:
    """Worker threads the scheduler knows; a ClusterError when it is lost."""
    if client.status != "running":
        raise ClusterError(f"lost the scheduler {scheduler or '(local)'}")
    try:
        return sum(client.nthreads().values())
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"lost the scheduler {scheduler or '(local)'} ({exc})") from None


@contextlib.contextmanager
def connect(workers: int | None = None, scheduler: str | None = None,
            timeout: float = 5.0, log=None):
    """A Dask client (a context manager): on a local cluster of ``workers``
    processes (one thread each), or on the running scheduler at
    ``scheduler`` (checked first: :func:`check_scheduler`). The local
    cluster is closed on the way out.

    Meanwhile what Dask, its worker processes and multiprocessing write to
    stderr (logs, tracebacks, warnings) is kept off it
    (:func:`simulation.cluster_log.kept_off_stderr`) and, once connected,
    appended to the file ``log`` if anything was said (:data:`CLUSTER_LOG`
    in the output folder); ``sys.stderr`` itself still reaches the terminal.

    Raises
    ------
    ClusterError
        The scheduler cannot be reached within ``timeout`` s, or is not Dask.
    """
    import distributed  # noqa: F401  (its log handlers made before stderr is kept off)

    from .cluster_log import kept_off_stderr

    with kept_off_stderr() as said:
        client, cluster = _client(workers, scheduler, timeout)
        try:
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
            if log is not None:
                said.keep(log)


def map_units(client, func, units, *, scheduler: str | None = None,
              worker_timeout: float = 60.0, poll: float = 1.0, window: int = WINDOW,
              on_wait=None):
    """Run ``func(*args)`` for every ``(key, args)`` of the iterable
    ``units`` on the cluster; yield ``(key, result)`` as units finish (in
    any order). ``on_wait()``, if given, is called after every ``poll``
    seconds in which no unit finished (a progress line's heartbeat while
    long units run).

    At most ``max(window, 4 x worker threads)`` units are in flight: units
    are drawn from ``units`` only as others finish, so the memory of the
    driver and of the scheduler does not grow with the number of units. A
    worker lost meanwhile is not an error (Dask runs its units elsewhere).

    Raises
    ------
    ClusterError
        A unit raised (the message names its error); the scheduler was lost;
        no live worker for ``worker_timeout`` s.
    """
    from distributed import wait
    from distributed.client import FuturesCancelledError

    units = iter(units)
    where = scheduler or "(local)"
    limit = max(window, 4 * _live_workers(client, scheduler))
    futures = {}

    def refill():
        while len(futures) < limit:
            try:
                key, args = next(units)
            except StopIteration:
                return
            futures[client.submit(func, *args, pure=False)] = key

    refill()
    lonely_since = None
    while futures:
        try:
            done, _ = wait(list(futures), timeout=poll, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except FuturesCancelledError:
            _live_workers(client, scheduler)
            raise ClusterError(f"the scheduler {where} cancelled the work") from None
        for fut in done:
            key = futures.pop(fut)
            if fut.status == "error":
                exc = fut.exception()
                what = (str(exc) if isinstance(exc, (OutputError, ClusterError))
                        else f"{type(exc).__name__}: {exc}")
                raise ClusterError(f"a unit failed on the cluster: {what}")
            try:
                result = fut.result()
            except (OSError, TimeoutError) as exc:  # CommClosedError is an OSError
                # The scheduler went away while the result was fetched.
                raise ClusterError(f"lost the scheduler {where} "
                                   f"({type(exc).__name__})") from None
            fut.release()
            yield key, result
        refill()
        if not done:
            if on_wait is not None:
                on_wait()
            threads = _live_workers(client, scheduler)
            limit = max(window, 4 * threads)
            if threads:
                lonely_since = None
            elif lonely_since is None:
                lonely_since = time.monotonic()
            elif time.monotonic() - lonely_since > worker_timeout:
                raise ClusterError(f"no live worker for {worker_timeout:g} s on the "
                                   f"scheduler {where}")

