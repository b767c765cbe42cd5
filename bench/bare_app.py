"""The baseline: a bare aiohttp handler returning fixed JSON bytes (the same body the real
endpoint returns), so a ratio against it measures what our stack costs on top of aiohttp.

It runs as ``huituan serve`` does: on the same event loop (HUITUAN_EVENT_LOOP), with the same
listen backlog, and with ``--workers N`` as N processes sharing one listening socket."""

from __future__ import annotations

import argparse
import json
import os

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with open(args.body_file, "rb") as fh:
        body = fh.read()
    if args.content_type == "application/json":
        json.loads(body)  # it must be JSON

    async def handler(request: web.Request) -> web.Response:
        if request.can_read_body:
            await request.read()
        return web.Response(body=body, status=args.status, content_type=args.content_type)

    from huituan.cli import LISTEN_BACKLOG, _bind
    from huituan.core.event_loop import new_event_loop
    from huituan.core.settings import EventLoop

    kind = os.environ.get("HUITUAN_EVENT_LOOP", EventLoop.uvloop.value)
    sock = _bind("127.0.0.1", args.port)  # as `huituan serve` listens
    children = []
    for _ in range(args.workers - 1):
        pid = os.fork()
        if pid == 0:
            children = []  # a fork serves; only the first process stops the others
            break
        children.append(pid)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    try:
        web.run_app(app, sock=sock, access_log=None, print=None, backlog=LISTEN_BACKLOG, loop=new_event_loop(kind))
    finally:
        for pid in children:  # the first process takes its forks with it
            try:
                os.kill(pid, 15)
                os.waitpid(pid, 0)
            except OSError:
                pass


if __name__ == "__main__":
    main()
