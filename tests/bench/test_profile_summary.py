"""bench.profile's summary of py-spy's raw samples: shares by package and by our function."""

from __future__ import annotations

from bench.profile import summarise

MAIN = "<module> (/x/quantum_grpc/__main__.py:3)"
GET = "get_port (/x/quantum_grpc/service/ports.py:50)"
RAW = "\n".join(
    [
        f"{MAIN};{GET};execute (/v/sqlalchemy/orm/session.py:9) 6",
        f"{MAIN};_run_once (/p/asyncio/base_events.py:1) 3",
        f"{MAIN};{GET};send (/v/grpc/_cython/x.py:2) 1",
    ]
)


def test_shares_are_by_leaf_package_and_by_our_functions_on_the_stack() -> None:
    found = summarise(RAW)
    assert found["packages"] == [("sqlalchemy", 60.0), ("asyncio", 30.0), ("grpc", 10.0)]
    ours = dict(found["ours"])
    assert ours["<module> (__main__.py)"] == 100.0
    assert ours["get_port (service/ports.py)"] == 70.0


def test_nothing_sampled_is_no_shares() -> None:
    assert summarise("") == {"packages": [], "ours": []}
