"""asyncio on both CPython builds, through their packaged launchers: the event loop starts without
a self-pipe (patch 0001 of each CPython series) and runs tasks, a queue and timeouts; to_thread
says that WASI has no threads. Before the patch, ``asyncio.run`` failed with ENOTSUP."""

from __future__ import annotations

import json
import subprocess

import pytest

from toolchain import paths

from .conftest import smoke

PROGRAM = r"""
import asyncio, json, time

async def worker(i):
    await asyncio.sleep(0.001 * (i % 5))
    return i * i

async def producer(queue, n):
    for i in range(n):
        await queue.put(i)
    await queue.put(None)

async def consumer(queue):
    total = 0
    while (item := await queue.get()) is not None:
        total += item
    return total

async def main():
    started = time.monotonic()
    squares = await asyncio.gather(*(worker(i) for i in range(1000)))
    queue = asyncio.Queue(maxsize=10)
    _, total = await asyncio.gather(producer(queue, 500), consumer(queue))
    timeouts = 0
    try:
        await asyncio.wait_for(asyncio.sleep(60), timeout=0.05)
    except TimeoutError:
        timeouts += 1
    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(60)
    except TimeoutError:
        timeouts += 1
    fired = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.01, fired.set_result, "later")
    try:
        await asyncio.to_thread(print)
        thread_error = None
    except RuntimeError as exc:
        thread_error = str(exc)
    return {"squares": sum(squares), "count": len(squares), "queue_total": total,
            "timeouts": timeouts, "call_later": await fired, "thread_error": thread_error,
            "seconds": time.monotonic() - started}

print(json.dumps(asyncio.run(main())))
"""


@pytest.mark.parametrize("recipe_id", ["python-3.13.5", "python-3.11.2"])
def test_asyncio_runs_tasks_a_queue_and_timeouts(recipe_id: str) -> None:
    smoke(recipe_id)
    launcher = paths.DIST / f"{recipe_id}-wasi" / "python"
    proc = subprocess.run([str(launcher), "-c", PROGRAM], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == ""  # no second error when the loop closes
    result = json.loads(proc.stdout)
    assert result["count"] == 1000 and result["squares"] == sum(i * i for i in range(1000))
    assert result["queue_total"] == sum(range(500))
    assert result["timeouts"] == 2 and result["call_later"] == "later"
    assert "WASI has no threads" in (result["thread_error"] or "")
    assert result["seconds"] < 60  # the timers woke the loop: it did not sleep the full minute
