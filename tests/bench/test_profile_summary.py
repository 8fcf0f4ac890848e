"""bench.profile's summary of py-spy's raw samples: shares by package and by our function."""

from __future__ import annotations

from bench.profile import C_CALLBACKS, summarise

MAIN = "<module> (/x/quantum_grpc/__main__.py:3)"
GET = "get_port (/x/quantum_grpc/service/ports.py:50)"
RAW = "\n".join(
    [
        f"{MAIN};{GET};execute (/v/sqlalchemy/orm/session.py:9) 6",
        f"{MAIN};_run_once (/p/asyncio/base_events.py:1) 3",
        f"{MAIN};{GET};send (/v/grpc/_cython/x.py:2) 1",
        f"{MAIN};{GET};port_to_proto (/x/quantum_grpc/convert.py:69) 2",
        f"{MAIN};{GET};wait (/p/asyncio/tasks.py:427) 1",
        f"{MAIN};_run_once (/p/asyncio/base_events.py:1);Handle._run (/p/asyncio/events.py:80) 2",
        f"{MAIN};{GET};<lambda> (<string>:1) 1",
    ]
)


def test_shares_are_by_leaf_package_and_by_our_functions_on_the_stack() -> None:
    found = summarise(RAW)
    # Our own quantum_grpc/ frames are ours, not grpc's; the loop running a callback
    # that has no Python frame (grpc's Cython) is not asyncio's own code.
    assert found["packages"] == [
        ("sqlalchemy", 37.5),
        ("asyncio", 25.0),
        ("quantum", 12.5),
        (C_CALLBACKS, 12.5),
        ("grpc", 6.2),
        ("other", 6.2),
    ]
    ours = dict(found["ours"])
    assert ours["<module> (__main__.py)"] == 100.0
    assert ours["get_port (service/ports.py)"] == 68.8


def test_nothing_sampled_is_no_shares() -> None:
    assert summarise("") == {"packages": [], "ours": []}
