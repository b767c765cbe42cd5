"""A real delivering process for the crash test: the outbox worker against the test's
database and sandbox, delivering until nothing is due (the test SIGKILLs it mid-way).

    python -m tests.services.notifications.deliver_proc <database_url> <sandbox base url>
"""

from __future__ import annotations

import asyncio
import sys

from huituan.app import start_runtime, stop_runtime
from huituan.core.settings import Settings
from huituan.services import outbox


async def main(database_url: str, base_url: str) -> None:
    settings = Settings(env="test", database_url=database_url, redis_url="memory://", public_base_url=base_url,
                        log_json=False, jobs_enabled=False, quiet_hours_start="00:00", quiet_hours_end="00:00")
    rt = await start_runtime(settings)
    try:
        while await outbox.deliver_pending(rt, limit=5):
            print("delivered a batch", flush=True)
    finally:
        await stop_runtime(rt)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
