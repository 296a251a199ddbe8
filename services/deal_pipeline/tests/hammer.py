"""Run as its own process by test_two_processes: moves one deal back and forth between two
stages and records a payment of 1 with every move, after a start signal, on the store named
by the environment (PERSISTENCE_MODULE, POSTGRES_*)."""

import sys
import time
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from deal_pipeline.main import use_cases


def main() -> None:
    deal_id, first, second, moves, ready, go = sys.argv[1:7]
    app = use_cases(managers=["m1"])
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.01)
    for i in range(int(moves)):
        app.deals.move_stage(UUID(deal_id), (first, second)[i % 2])
        app.deals.record_payment(UUID(deal_id), Decimal("1"))
        # A breath between rounds: on a loaded machine one worker could otherwise finish
        # before the other is scheduled at all, and the two would never really contend.
        time.sleep(0.01)
    app.close()


if __name__ == "__main__":
    main()
