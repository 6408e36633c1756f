"""Geo API Worker: "Hello from the edge" with the caller's country, colo and city.

A thin adapter over ``geo_reply``: reads ``request.cf`` (None outside Cloudflare's edge,
fields missing on some requests) and the optional ``MESSAGE`` binding.
"""

import geo_reply
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        cf = getattr(request, "cf", None)
        fields = {name: getattr(cf, name, None) for name in geo_reply.GEO_FIELDS}
        answer = geo_reply.reply(str(request.js_object.method).upper(), fields,
                                 getattr(self.env, "MESSAGE", None))
        return Response(answer.body, status=answer.status, headers=answer.headers)
