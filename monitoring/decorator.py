"""``@monitor_performance``: time a function or method into a metrics registry.

Which registry records a call is decided at call time, in this order:

1. ``registry=`` given to the decorator: a :class:`MetricsRegistry`, or a zero-argument
   callable returning one (or ``None``);
2. for methods (first parameter named ``self``), ``self.registry`` if it is a registry;
3. the registry bound to the current context by :func:`use_registry` (the app's HTTP
   middleware binds its own for each request; ``asyncio`` tasks and ``asyncio.to_thread``
   inherit it, plain threads do not);
4. none: the function runs unmeasured.

So there is no process-wide registry: each app, and each test, records into its own.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar, overload

from monitoring.registry import MetricsRegistry

F = TypeVar("F", bound=Callable[..., Any])
RegistrySource = MetricsRegistry | Callable[[], MetricsRegistry | None] | None

_current: ContextVar[MetricsRegistry | None] = ContextVar("logclass_registry", default=None)


def current_registry() -> MetricsRegistry | None:
    """The registry bound to this context by :func:`use_registry`, if any."""
    return _current.get()


class use_registry:  # lower-case: it reads as a function, ``with use_registry(r):``
    """Bind ``registry`` for ``@monitor_performance`` within the block (and tasks it starts).

    A small class rather than ``@contextmanager``: the HTTP middleware enters it on every
    request, and this is several times cheaper.
    """

    __slots__ = ("registry", "_token")

    def __init__(self, registry: MetricsRegistry | None) -> None:
        self.registry = registry

    def __enter__(self) -> MetricsRegistry | None:
        self._token = _current.set(self.registry)
        return self.registry

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)


@overload
def monitor_performance(func: F, /) -> F: ...
@overload
def monitor_performance(
    name: str | None = None, /, *, registry: RegistrySource = None
) -> Callable[[F], F]: ...


def monitor_performance(target: Any = None, /, *, registry: RegistrySource = None) -> Any:
    """Record each call's duration, and whether it raised, as timer ``name``.

    Works on sync functions, coroutine functions and methods; ``name`` defaults to
    ``module.qualname``. Exceptions are recorded as errors and re-raised unchanged;
    cancellation (``BaseException``) is timed but not counted as an error. Usable bare
    (``@monitor_performance``) or called (``@monitor_performance("name", registry=...)``).
    """
    if callable(target):
        return _decorate(target, None, registry)
    return lambda func: _decorate(func, target, registry)


def _decorate(func: F, name: str | None, source: RegistrySource) -> F:
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise TypeError(f"@monitor_performance cannot time generator {func.__qualname__}")
    timer = name or f"{func.__module__}.{func.__qualname__}"
    params = list(inspect.signature(func).parameters)
    is_method = bool(params) and params[0] == "self"

    def resolve(args: tuple[Any, ...]) -> MetricsRegistry | None:
        if source is not None:
            return source if isinstance(source, MetricsRegistry) else source()
        if is_method and args:
            own = getattr(args[0], "registry", None)
            if isinstance(own, MetricsRegistry):
                return own
        return _current.get()

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            target = resolve(args)
            if target is None:
                return await func(*args, **kwargs)
            failed = False
            started = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            except Exception:
                failed = True
                raise
            finally:
                target.observe(timer, time.perf_counter() - started, failed)

        return timed_async  # type: ignore[return-value]

    @functools.wraps(func)
    def timed(*args: Any, **kwargs: Any) -> Any:
        target = resolve(args)
        if target is None:
            return func(*args, **kwargs)
        failed = False
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        except Exception:
            failed = True
            raise
        finally:
            target.observe(timer, time.perf_counter() - started, failed)

    return timed  # type: ignore[return-value]
