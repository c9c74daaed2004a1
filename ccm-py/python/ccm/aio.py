"""The embedded engine for asyncio: :class:`AsyncEngine`.

Every blocking method of :class:`ccm.Engine` releases the GIL while the engine
works, so this layer runs each call in a thread pool and awaits it: the event
loop never blocks, and concurrent calls run in parallel. The methods and their
arguments are exactly those of :class:`ccm.Engine`, as coroutines.
"""

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable, Optional

from .engine import Engine, TimeLike
from .models import Event

__all__ = ["AsyncEngine"]

#: Engine methods offered as coroutines (every use case; `events` is separate).
_METHODS = (
    "now",
    "advance",
    "step",
    "list_workers",
    "get_worker",
    "create_worker",
    "import_worker",
    "import_matching",
    "start_worker",
    "stop_worker",
    "set_monitoring_interval",
    "terminate_worker",
    "delete_worker",
    "refresh_worker",
    "set_tags",
    "remove_tags",
    "enable_monitoring",
    "register_licence",
    "deregister_licence",
    "idle_status",
    "set_idle_detection",
    "set_draining",
    "metrics_series",
    "list_labs",
    "refresh_labs",
    "lab_action",
    "import_lab",
    "download_lab",
    "list_definitions",
    "create_definition",
    "get_definition",
    "set_definition_active",
    "list_lablets",
    "create_lablet",
    "preview_placement",
    "capacity_forecast",
    "cost",
    "get_lablet",
    "cancel_lablet",
    "extend_lablet",
    "create_on_demand_lablet",
    "delete_lablet",
    "list_jobs",
    "trigger_job",
    "pause_job",
    "resume_job",
    "read_events",
    "wait_events",
)


def _coroutine(name: str) -> Callable[..., Any]:
    blocking = getattr(Engine, name)

    @functools.wraps(blocking)
    async def call(self: "AsyncEngine", *args: Any, **kwargs: Any) -> Any:
        return await self._run(getattr(self.engine, name), *args, **kwargs)

    return call


class AsyncEngine:
    """:class:`ccm.Engine` with coroutine methods (``await engine.list_workers()``)."""

    def __init__(self, engine: Engine, *, max_workers: int = 4) -> None:
        """Wraps an opened :class:`ccm.Engine`; calls run on up to ``max_workers`` threads."""
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ccm")

    @classmethod
    async def open(
        cls,
        database_url: str = "memory",
        cloud: str = "sim",
        *,
        start: Optional[TimeLike] = None,
        **settings: Any,
    ) -> "AsyncEngine":
        """Opens the engine without blocking the loop; arguments as :meth:`ccm.Engine.open`."""
        loop = asyncio.get_running_loop()
        opener = functools.partial(Engine.open, database_url, cloud, start=start, **settings)
        engine = await loop.run_in_executor(None, opener)
        return cls(engine)

    async def _run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    @property
    def simulated(self) -> bool:
        """True on the simulator's virtual clock."""
        return self.engine.simulated

    async def events(
        self, after: int = 0, *, batch: int = 500, follow: bool = False
    ) -> AsyncIterator[Event]:
        """Every event after the cursor ``after``, in order; with ``follow=True``
        waits at the head for the store's notifications (as :meth:`ccm.Engine.events`)."""
        cursor = after
        while True:
            page = await self._run(self.engine.read_events, cursor, batch)
            if page:
                for event in page:
                    yield event
                cursor = int(page[-1].sequence)
            elif not follow:
                return
            else:
                await self._run(self.engine.wait_events, cursor)

    def close(self) -> None:
        """Stops the thread pool (calls in flight finish first)."""
        self._pool.shutdown(wait=True)

    async def __aenter__(self) -> "AsyncEngine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AsyncEngine({self.engine!r})"


for _name in _METHODS:
    setattr(AsyncEngine, _name, _coroutine(_name))
