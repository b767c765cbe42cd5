"""Poster benchmarks (part of ``make bench``), each as a ratio or a bound in the same run:

1. cold render: the product poster rendered by the pure renderer (no cache: a new code and
   price each time, a real 800x800 JPEG product image, a 430 px code PNG), one render at a
   time in this process: p50 / p95 wall time (and CPU time). Target p50 <= 25 ms, p95 <= 40 ms.
2. cached poster requests: ``GET /api/v1/posters/product?target=`` with a promoter token, served
   from the poster caches, against the bare aiohttp handler serving the same bytes. Target >= 50 %.
3. /healthz p99 while 64 cold renders are in flight (64 concurrent poster requests, each for a
   poster nobody asked for before, kept up for the whole measurement). Target p99 <= 50 ms.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import threading
import time

WRK_CONNECTIONS_HEALTH = 4


def product_image() -> bytes:
    from PIL import Image, ImageFilter

    im = Image.effect_noise((800, 800), 60).convert("RGB").filter(ImageFilter.GaussianBlur(2))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def cold_render(samples: int = 60, new_image_each_time: bool = False) -> dict:
    from huituan.core.sandbox.wechat import render_qr
    from huituan.posters import text
    from huituan.posters.render import render
    from huituan.posters.templates import builtin_templates

    text.configure()
    image = product_image()
    spec = builtin_templates()["classic"]

    def job(i: int) -> dict:
        # A product image never seen by this worker (another byte at its end) or a product
        # already fitted once (its sharers' posters): the renderer keeps a few fitted images.
        img = image + i.to_bytes(4, "big") if new_image_each_time else image
        return {"spec": spec, "images": {"image": img, "sharer_avatar": None},
                "fields": {"headline": "好物推荐，一起来买", "title": f"【产地直发】阳光玫瑰青提 2 斤装 第{i}批，香甜脆爽一口爆汁",
                           "price_fen": 3990 + i, "reference_price_fen": 4990 + i, "sharer_name": f"推手{i}"},
                "code": {"png": render_qr(f"pages/share/index?scene=B{i:07d}", 430)}}

    jobs = [job(i) for i in range(samples + 5)]
    for j in jobs[:5]:  # fonts, masks: loaded once per process, as in a warmed render worker
        render(j)
    wall, cpu = [], []
    for j in jobs[5:]:
        t0, c0 = time.perf_counter(), time.process_time()
        render(j)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    wall.sort()
    cpu.sort()
    q = statistics.quantiles(wall, n=20)
    result = {"samples": samples, "new_image_each_time": new_image_each_time, "p50_ms": round(statistics.median(wall), 1), "p95_ms": round(q[18], 1),
              "cpu_p50_ms": round(statistics.median(cpu), 1), "cpu_p95_ms": round(statistics.quantiles(cpu, n=20)[18], 1)}
    what = "new product image" if new_image_each_time else "product image fitted before"
    print(f"poster cold render ({what}): p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms "
          f"(CPU p50 {result['cpu_p50_ms']} ms, p95 {result['cpu_p95_ms']} ms)")
    return result


class ColdLoad:
    """Keeps ``inflight`` cold poster requests going in a background thread until stopped."""

    def __init__(self, base: str, tokens: list[str], product_ids: list[int], inflight: int = 64):
        self.base, self.tokens, self.products, self.inflight = base, tokens, product_ids, inflight
        self.stop = threading.Event()
        self.statuses: dict[int, int] = {}
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def pairs(self):
        for pid in self.products:
            for tok in self.tokens:
                yield tok, pid

    async def _main(self) -> None:
        import aiohttp

        pairs = self.pairs()
        lock = asyncio.Lock()

        async def worker(session):
            while not self.stop.is_set():
                async with lock:
                    pair = next(pairs, None)
                if pair is None:
                    return
                tok, pid = pair
                async with session.get(f"{self.base}/api/v1/posters/product?target={pid}",
                                       headers={"Authorization": f"Bearer {tok}"}) as resp:
                    await resp.read()
                    self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1

        conn = aiohttp.TCPConnector(limit=self.inflight)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as session:
            await asyncio.gather(*(worker(session) for _ in range(self.inflight)))

    def __enter__(self):
        self.thread.start()
        time.sleep(1.0)  # all 64 in flight before measuring
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=180)


def measure(base: str, work, data: dict, args, run_wrk, start_bare) -> dict:
    """``data``: tokens (list of (token, address)), poster_product_ids. ``start_bare(path, content_type)``
    starts the bare handler on the given bytes and returns its port."""
    import urllib.request

    results: dict = {"cold_render": cold_render(), "cold_render_new_image": cold_render(new_image_each_time=True)}
    token = data["tokens"][0][0]
    pid = data["poster_product_ids"][0]
    url = f"{base}/api/v1/posters/product?target={pid}"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body, ctype = resp.read(), resp.headers["Content-Type"]
    poster_file = work / "poster.bin"
    poster_file.write_bytes(body)
    bare_port = start_bare(poster_file, ctype)
    bare_url = f"http://127.0.0.1:{bare_port}/api/v1/posters/product"
    headers = [f"Authorization: Bearer {token}"]
    run_wrk(bare_url, seconds=2, connections=args.connections, headers=headers)
    run_wrk(url, seconds=2, connections=args.connections, headers=headers)
    bare_1 = run_wrk(bare_url, seconds=args.seconds, connections=args.connections, headers=headers)
    cached = run_wrk(url, seconds=args.seconds, connections=args.connections, headers=headers)
    bare_2 = run_wrk(bare_url, seconds=args.seconds, connections=args.connections, headers=headers)
    bare_rps = (bare_1["rps"] + bare_2["rps"]) / 2
    results["cached"] = {"bytes": len(body), "bare_rps": round(bare_rps, 1), "rps": cached["rps"],
                         "ratio": round(cached["rps"] / bare_rps, 3), "p50": cached["p50"], "p99": cached["p99"],
                         "non_2xx": cached["non_2xx"]}
    print(f"cached poster ({len(body)} bytes): {cached['rps']:.0f} req/s vs bare {bare_rps:.0f} req/s "
          f"= {cached['rps'] / bare_rps:.1%} (p99 {cached['p99']})")

    tokens = [t for t, _ in data["tokens"][1:]]
    with ColdLoad(base, tokens, data["poster_product_ids"], inflight=64) as load:
        health = run_wrk(f"{base}/healthz", seconds=args.seconds, connections=WRK_CONNECTIONS_HEALTH)
    results["healthz_under_cold_renders"] = {"inflight": 64, "p50": health["p50"], "p99": health["p99"],
                                             "rps": health["rps"], "non_2xx": health["non_2xx"],
                                             "poster_statuses": dict(load.statuses)}
    print(f"/healthz with 64 cold renders in flight: p50 {health['p50']}, p99 {health['p99']} "
          f"(poster answers {dict(load.statuses)})")
    return results
