"""Scale out: 200 room mailboxes' initial sync on 1 versus 4 RQ worker processes (real Redis).

Public API: :func:`run`, :func:`rq_initial_sync`.

Method: a redis-server on a free loopback port; the Graph emulator in its own process with 200 rooms x
20 events, answering each request after 50 ms; the reference host on a SQLite file with the RQ queue
backend; N ``rq worker`` processes (``SimpleWorker``) running the plugin's jobs. A cron tick queues every
room's subscription and first sync; the wall time runs from that tick until the queue, the scheduled
jobs and every worker are idle. Each worker process caps its own requests at ``max_concurrency`` (4),
so 4 processes may have up to 16 requests in flight (each room mailbox still sees at most 4). Skipped
(reported, not failed) where no ``redis-server`` binary or no ``rq`` package exists.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

from benchmarks.application import LATENCY
from benchmarks.application import peak_in_flight
from benchmarks.emulator_process import EmulatorProcess
from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.worlds import TENANT
from ireserve_lab.world import World

__all__ = ["rq_initial_sync", "run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _idle(queue: Any) -> bool:
    from rq import Worker
    from rq.registry import ScheduledJobRegistry
    from rq.registry import StartedJobRegistry

    return (
        len(queue) == 0
        and len(StartedJobRegistry(queue=queue)) == 0
        and len(ScheduledJobRegistry(queue=queue)) == 0
        and all(w.get_state() == "idle" for w in Worker.all(queue=queue))
    )


def rq_initial_sync(opts: Options, redis_url: str, rooms: int, events: int, workers: int) -> dict[str, Any]:
    """Wall time of the initial sync of ``rooms`` x ``events`` on ``workers`` RQ worker processes."""
    from ireserve_devhost.rq_queue import RedisJobQueue

    backend = RedisJobQueue(redis_url)
    backend.queue.connection.flushdb()
    db = opts.scratch(f"rq-{rooms}-{workers}") / "host.sqlite3"
    with EmulatorProcess(rooms=rooms, events=events, latency=LATENCY) as graph, World(db, job_queue=backend) as world:
        rows = []
        for n in range(1, rooms + 1):
            obj = world.host.add_object(f"Room {n:03d}", timezone="Europe/Amsterdam")
            rows.append({"upn": f"room-{n:03d}@{TENANT}", "object": obj.id})
        world.integration(
            "rooms",
            "outlook",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "auth_mode": "application",
                "tenant": TENANT,
                "rooms": rows,
                **World.graph_urls(graph.url),
            },
        )
        env = {
            **os.environ,
            "IRESERVE_DEVHOST_DB": str(db),
            "IRESERVE_REDIS_URL": redis_url,
            "IRESERVE_DEVHOST_PUBLIC_URL": world.server.url,
        }
        command = [
            sys.executable,
            "-c",
            "from rq.cli import main; main()",
            "worker",
            "--url",
            redis_url,
            "--with-scheduler",
            "--worker-class",
            "rq.worker.SimpleWorker",
            "--quiet",
            "ireserve",
        ]
        procs = [
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)
        ]
        try:
            from rq import Worker

            while len(Worker.all(queue=backend.queue)) < workers:  # all registered before the clock starts
                time.sleep(0.05)
            since = len(graph.entries())
            started = time.monotonic()
            world.tick()
            time.sleep(0.2)
            while not _idle(backend.queue):
                time.sleep(0.05)
            seconds = time.monotonic() - started
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
        made = graph.entries()[since:]
        bookings = len(world.host.list_bookings())
    return {
        "rooms": rooms,
        "events": events,
        "workers": workers,
        "seconds": seconds,
        "bookings": bookings,
        "requests": len(made),
        "throttled": sum(1 for e in made if e["status"] == 429),
        "peak_in_flight": peak_in_flight(made),
    }


def run(opts: Options) -> list[Figure]:
    rooms, events = (12, 5) if opts.quick else (200, 20)
    name = f"scale out: {rooms} rooms x {events} events initial sync, 1 vs 4 RQ worker processes"
    target = "reported (the issue asks for the row; faster with 4, nothing lost)"
    binary = shutil.which("redis-server")
    try:
        import rq  # noqa: F401
    except ImportError:
        return [Figure("scale.rq_workers", name, target, "skipped: no rq package (pip install -e '.[rq]')", None)]
    if binary is None:
        return [Figure("scale.rq_workers", name, target, "skipped: no redis-server binary", None)]
    port = _free_port()
    redis = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        time.sleep(0.3)
        repeat = 1 if opts.quick else max(1, min(opts.runs, 2))
        pairs = []
        for i in range(repeat):
            opts.log(f"   {rooms} rooms on 1 RQ worker, run {i + 1}/{repeat}")
            one = rq_initial_sync(opts, url, rooms, events, 1)
            opts.log(f"   {rooms} rooms on 4 RQ workers, run {i + 1}/{repeat}")
            four = rq_initial_sync(opts, url, rooms, events, 4)
            pairs.append((one, four))
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    one_s = median(p[0]["seconds"] for p in pairs)
    four_s = median(p[1]["seconds"] for p in pairs)
    complete = all(r["bookings"] == rooms * events for pair in pairs for r in pair)
    throttled = sum(r["throttled"] for pair in pairs for r in pair)
    return [
        Figure(
            "scale.rq_workers",
            name,
            target,
            f"1 worker {one_s:.1f} s, 4 workers {four_s:.1f} s ({one_s / four_s:.1f}x), "
            f"peak {max(p[1]['peak_in_flight'] for p in pairs)} in flight, {throttled} 429s"
            + ("" if complete else " (bookings missing!)"),
            complete and four_s < one_s,
            value=one_s / four_s,
            unit="x",
            detail={"runs": [{"one": a, "four": b} for a, b in pairs]},
        )
    ]
