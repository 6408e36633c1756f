"""Edge counter Worker: named counters in a Durable Object, one object per name.

A thin adapter over ``counter_rules``. ``Default`` checks the request and hands it to the
``Counter`` object of its name (``env.COUNTERS.getByName(name)``); the object reads its
stored value, adds, stores and answers. Cloudflare runs one instance per object and lets no
other request in while it waits on its storage (input gates), so concurrent increments of
one name never lose an update; different names run in parallel on different objects.
"""

import counter_rules as rules
from workers import DurableObject, Response, WorkerEntrypoint

VALUE_KEY = "value"


class Counter(DurableObject):
    async def fetch(self, request):
        operation = rules.parse(str(request.js_object.method).upper(), request.url)
        if isinstance(operation, rules.Refusal):  # Default checked it already
            return _refusal(operation)
        value = rules.apply(await self.ctx.storage.get(VALUE_KEY), operation)
        if operation.by:
            await self.ctx.storage.put(VALUE_KEY, value)
        return Response(rules.answer(operation.name, value), headers=rules.HEADERS)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        operation = rules.parse(str(request.js_object.method).upper(), request.url)
        if isinstance(operation, rules.Refusal):
            return _refusal(operation)
        return await self.env.COUNTERS.getByName(operation.name).fetch(request)


def _refusal(refusal):
    return Response(refusal.body(), status=refusal.status, headers=refusal.headers())
