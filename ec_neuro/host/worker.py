"""`python -m ec_neuro.host.worker SOCKET`: one worker process of `ProcessWorkers`, serving its parent's requests."""
from __future__ import annotations

import sys

from ..child import connect, die_with_parent, serve


def main(address: str) -> None:
    die_with_parent()
    import numba
    numba.set_num_threads(1)  # the worker processes already use the cores
    from .workers import Warm
    warm = Warm()
    conn = connect(address)
    try:
        serve(conn, lambda req: warm.run(req[1]))
    finally:
        warm.close()
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
