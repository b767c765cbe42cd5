"""The baseline: a bare aiohttp handler returning fixed JSON bytes (the same body the real
endpoint returns), so a ratio against it measures what our stack costs on top of aiohttp."""

from __future__ import annotations

import argparse
import json

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--content-type", default="application/json")
    args = parser.parse_args()
    with open(args.body_file, "rb") as fh:
        body = fh.read()
    if args.content_type == "application/json":
        json.loads(body)  # it must be JSON

    async def handler(request: web.Request) -> web.Response:
        if request.can_read_body:
            await request.read()
        return web.Response(body=body, status=args.status, content_type=args.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
