"""Inside the isolate: import a Python Worker's main module and call its classes.

Runs in Pyodide, next to the Worker's own modules and the vendored ``workers`` SDK. What
it does is what workerd's Python entrypoint does around a Worker (behaviour as documented
at https://developers.cloudflare.com/workers/languages/python/ and in the SDK's
``workers.entrypoints`` / ``workers.rpc``), written for this host:

* the main module is imported once per isolate; ``Default`` must derive from
  ``workers.WorkerEntrypoint``;
* each request builds a new ``Default(ctx, env)`` (the SDK wraps env and ctx in its
  constructor), converts the JS Request with ``python_from_rpc`` (a ``workers.Request``),
  awaits ``fetch`` and hands back ``python_to_rpc`` of the answer (a JS Response);
* a Durable Object class is instantiated once per object id with ``(state, env)`` and its
  ``fetch`` is called the same way.
"""

import asyncio
import importlib
import inspect
import sys

from workers import DurableObject, WorkerEntrypoint, python_from_rpc, python_to_rpc

ENTRYPOINT = "Default"
_main = None
_env = None


class WorkerLoadError(Exception):
    pass


class WorkerTimeout(Exception):
    """The request ran past its deadline and was cancelled."""


def load(module_name, env):
    """Import the main module; the names of the Durable Object classes it exports."""
    global _main, _env
    _main = importlib.import_module(module_name)
    _env = env
    entrypoint = getattr(_main, ENTRYPOINT, None)
    if not (inspect.isclass(entrypoint) and issubclass(entrypoint, WorkerEntrypoint)):
        raise WorkerLoadError(
            f"there is no {ENTRYPOINT!r} class derived from workers.WorkerEntrypoint in the "
            f"main module {module_name}.py"
        )
    return [
        name for name, value in vars(_main).items()
        if inspect.isclass(value) and issubclass(value, DurableObject)
        and value is not DurableObject
    ]


def set_env(env):
    global _env
    _env = env


async def _call(method, request):
    result = method(python_from_rpc(request))
    if inspect.isawaitable(result):
        result = await result
    if not hasattr(result, "js_object"):
        raise TypeError(f"fetch() returned {type(result).__name__}, not a workers.Response")
    return python_to_rpc(result)


async def fetch(ctx, request, timeout=None):
    """One request; with a timeout (seconds) it is cancelled when it runs past it."""
    call = _call(getattr(_main, ENTRYPOINT)(ctx, _env).fetch, request)
    if timeout is None:
        return await call
    try:
        return await asyncio.wait_for(call, timeout)
    except TimeoutError:
        raise WorkerTimeout(f"no answer within {timeout:g} s; the request was cancelled") from None


def new_object(class_name, state):
    cls = getattr(_main, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, DurableObject)):
        raise WorkerLoadError(f"{class_name!r} is not a workers.DurableObject class of the Worker")
    return cls(state, _env)


async def object_fetch(instance, request):
    return await _call(instance.fetch, request)


def version():
    return sys.version
