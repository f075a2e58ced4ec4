"""The machine's ceiling: a bare FastAPI JSON endpoint served exactly as the services are.

python -m bench.bare_app PORT WORKERS
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from shared.cli.serving import server_options


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/json")
    async def json_answer() -> dict[str, object]:
        return {"ok": True, "service": "bare"}

    return app


if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    uvicorn.run("bench.bare_app:create_app", **server_options("127.0.0.1", port, workers))  # type: ignore[arg-type]
