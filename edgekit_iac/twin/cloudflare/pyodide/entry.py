"""Inside the isolate: import a Python Worker's main module and call its classes.

Runs in Pyodide, next to the Worker's own modules and the vendored ``workers`` SDK. What
it does is what workerd's Python entrypoint does around a Worker (behaviour as documented
at https://developers.cloudflare.com/workers/languages/python/ and in the SDK's
``workers.entrypoints`` / ``workers.rpc``), written for this host:

* the main module is imported once per isolate; ``Default`` must derive from
  ``workers.WorkerEntrypoint``;
* each request builds a new ``Default(ctx, env)`` (the SDK wraps env and ctx in its
  constructor), wraps the JS Request in a ``workers.Request``, awaits ``fetch`` and hands
  back the answer's JS Response. (workerd gets there through ``python_from_rpc`` /
  ``python_to_rpc``, whose conversions of a Request and a Response are exactly these;
  calling the two constructors directly saves a quarter of a millisecond per request.)
* a Durable Object class is instantiated once per object id with ``(state, env)`` and its
  ``fetch`` is called the same way.
"""

import asyncio
import importlib
import inspect
import sys

from workers import DurableObject, Request, WorkerEntrypoint

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
    result = method(Request(request))
    if inspect.isawaitable(result):
        result = await result
    js_object = getattr(result, "js_object", None)
    if js_object is None:
        if getattr(getattr(result, "constructor", None), "name", None) == "Response":
            return result  # a JS Response returned as it is
        raise TypeError(f"fetch() returned {type(result).__name__}, not a workers.Response")
    return js_object


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
