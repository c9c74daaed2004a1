"""The asyncio API: the same use cases as coroutines, the loop never blocked."""

import asyncio
from datetime import timedelta

import pytest

import ccm


def test_async_engine_runs_use_cases_concurrently():
    async def main():
        async with await ccm.AsyncEngine.open("memory", "sim", regions=["us-east-1"]) as engine:
            assert engine.simulated
            created = await asyncio.gather(*(engine.create_worker(f"w{i}") for i in range(5)))
            assert len({w.id for w in created}) == 5
            await engine.advance(timedelta(minutes=10))
            workers = await engine.list_workers(status=["running"])
            assert sorted(w.name for w in workers) == [f"w{i}" for i in range(5)]
            # The loop keeps running while the engine works.
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            task = asyncio.ensure_future(ticker())
            await engine.advance(timedelta(hours=1))
            task.cancel()
            assert ticks > 0
            seen = [e async for e in engine.events()]
            assert seen and [e.sequence for e in seen] == sorted(e.sequence for e in seen)
            later = [e async for e in engine.events(after=seen[-1].sequence)]
            assert later == []
            with pytest.raises(ccm.NotFound):
                await engine.get_worker("00000000-0000-0000-0000-000000000001")

    asyncio.run(main())


def test_async_methods_mirror_the_blocking_ones():
    blocking = {n for n in dir(ccm.Engine) if not n.startswith("_") and callable(getattr(ccm.Engine, n))}
    blocking -= {"open", "events"}
    for name in blocking:
        assert asyncio.iscoroutinefunction(getattr(ccm.AsyncEngine, name)), name
