"""Geo API Worker: "Hello from the edge" with the caller's country, colo and city.

A thin adapter over ``geo_reply``: reads ``request.cf`` (None outside Cloudflare's edge,
fields missing on some requests), the optional ``MESSAGE`` binding and the
``geo_message`` feature flag (``edge_flags``).
"""

import edge_flags
import geo_reply
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        cf = getattr(request, "cf", None)
        fields = {name: getattr(cf, name, None) for name in geo_reply.GEO_FIELDS}
        # The geo_message feature flag, else the MESSAGE binding, else the default message.
        message = await edge_flags.READER.get(self.env, "geo_message",
                                              getattr(self.env, "MESSAGE", None) or "")
        answer = geo_reply.reply(str(request.js_object.method).upper(), fields, message)
        return Response(answer.body, status=answer.status, headers=answer.headers)
