"""`serve` owns its address and its database, and says in one line why it cannot start."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import grpc
import pytest

from quantum_grpc.config import BackendTarget, Settings
from quantum_grpc.server import build_server
from quantum_grpc.startup import StartupError
from tests.helpers import Api
from tests.helpers.processes import free_port
from tests.helpers.serve import Cores, cores, error_line, run_serve

__all__ = ["cores"]  # the fixture


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_second_serve_on_the_same_address_fails_and_the_first_keeps_serving(
    cores: Cores, channel_factory
) -> None:
    first = await cores.start()
    result = run_serve("serve", "--listen", first.address, "--data-dir", str(cores.folder("other")))
    assert result.returncode == 1
    assert f"{first.address} is in use" in error_line(result)

    # Every call still reaches the first core's database, and only it.
    api = Api(channel_factory(first.address))
    created = [(await api.create_network(f"n{i}")).id for i in range(6)]
    assert sorted([n.id async for n in api.list_networks()]) == sorted(created)


async def test_a_port_sharing_server_cannot_join_the_cores_port(cores: Cores) -> None:
    """gRPC servers set SO_REUSEPORT by default; the core's socket must not allow it."""
    first = await cores.start()
    intruder = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
    try:
        try:
            bound = intruder.add_insecure_port(first.address)
        except RuntimeError:
            bound = 0
        assert bound == 0
    finally:
        await intruder.stop(0)


async def test_two_cores_on_one_sqlite_file_the_second_refuses(cores: Cores) -> None:
    first = await cores.start()
    result = run_serve(
        *("serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(first.data_dir))
    )
    assert result.returncode == 1
    line = error_line(result)
    assert str(first.data_dir / "quantum.db") in line
    assert f"pid {first.process.pid}" in line


async def test_in_one_process_a_second_core_on_the_file_refuses_until_the_first_stops(
    sqlite_url: str, sim_factory
) -> None:
    sim = await sim_factory("sync")
    settings = Settings(
        database_url=sqlite_url, backends=(sim.target,), listen="127.0.0.1:0", grace=0
    )
    first = await build_server(settings)
    try:
        with pytest.raises(StartupError, match="this process"):
            await build_server(settings)
    finally:
        await first.stop(0)
    again = await build_server(settings)  # the lock went with the first core
    await again.stop(0)


async def test_the_database_and_its_directory_are_private(cores: Cores, channel_factory) -> None:
    served = await cores.start(data_dir=cores.folder("fresh") / "data")
    api = Api(channel_factory(served.address))
    await api.create_network("n")  # the WAL files exist once something was written
    folder = served.data_dir
    assert _mode(folder) == 0o700
    files = [folder / name for name in ("quantum.db", "quantum.db-wal", "quantum.db-shm")]
    assert all(f.exists() for f in files), list(folder.iterdir())
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--listen", "127.0.0.1:99999"),
        ("--listen", "127.0.0.1"),
        ("--listen", "127.0.0.1:http"),
        ("--advertise", "10.0.0.1:123456"),
        ("--sync-wait", "-1"),
        ("--grace", "-1"),
        ("--event-poll-interval", "nan"),
        ("--database-url", "nosuchdb://x"),
        ("--max-concurrent-streams", "0"),
        ("--max-watches-per-tenant", "-5"),
        ("--max-receive-message-bytes", "4MB"),
        ("--max-connections", "-1"),
    ],
)
def test_a_bad_flag_value_is_a_usage_error(tmp_path: Path, flag: str, value: str) -> None:
    listen = ["--listen", f"127.0.0.1:{free_port()}"] if flag != "--listen" else []
    result = run_serve(
        "serve", *listen, "--data-dir", str(tmp_path / "data"), f"{flag}={value}", timeout=20
    )
    assert result.returncode == 2
    assert f"argument {flag}" in error_line(result)
    assert not (tmp_path / "data").exists()  # nothing was started


def test_a_bad_log_level_is_a_usage_error(tmp_path: Path) -> None:
    result = run_serve("--log-level", "LOUD", "serve", "--data-dir", str(tmp_path), timeout=20)
    assert result.returncode == 2
    assert "argument --log-level" in error_line(result)


@pytest.mark.parametrize("case", ["postgresql-unreachable", "data-dir-is-a-file", "under-a-file"])
def test_an_unusable_environment_is_one_line_and_exit_1(tmp_path: Path, case: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    flags, expected = {
        "postgresql-unreachable": (
            ["--database-url", "postgresql://postgres@127.0.0.1:1/x"],
            "cannot reach the database postgresql://postgres@127.0.0.1:1/x",
        ),
        "data-dir-is-a-file": (["--data-dir", str(blocker)], f"{blocker} is not a directory"),
        "under-a-file": (
            ["--data-dir", str(blocker / "data")],
            f"cannot create the data directory {blocker / 'data'}",
        ),
    }[case]
    result = run_serve("serve", "--listen", f"127.0.0.1:{free_port()}", *flags, timeout=40)
    assert result.returncode == 1
    assert expected in error_line(result)


async def test_in_one_process_a_taken_address_is_a_startup_error(
    tmp_path: Path, sim_factory
) -> None:
    sim = await sim_factory("sync")
    taken = f"127.0.0.1:{sim.port}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/q.db",
        backends=(BackendTarget("sim", taken),),
        listen=taken,
        grace=0,
    )
    with pytest.raises(StartupError, match=f"{taken} is in use"):
        await build_server(settings)
    # Nothing was left holding the file: a core on a free port starts on it.
    app = await build_server(dataclasses.replace(settings, listen="127.0.0.1:0"))
    await app.stop(0)
