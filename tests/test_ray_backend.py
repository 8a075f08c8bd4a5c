"""The one fan-out backend on a local Ray cluster of 2 CPUs: a small sweep and a small allocation stage
give rows identical to the local process backend; an address nothing answers at exits 2 naming it."""

import socket
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from p2psim.batch.sweep import deterministic_columns, sweep

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "studies" / "tiny.py"
GRID = [("tariffs.p2p_fee_per_kwh", ["0.01", "0.03"])]


@pytest.fixture(scope="module")
def ray_cluster():
    """A private 2-CPU cluster on loopback, shared by the module (the backends use it as they find it)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[deterministic_columns(frame.columns)].reset_index(drop=True)


def test_a_sweep_on_ray_gives_the_local_rows(ray_cluster, tmp_path):
    _, local = sweep([TINY], GRID, [0], out=tmp_path / "local", backend="local", workers=2, progress=False)
    _, stats = sweep([TINY], GRID, [0], out=tmp_path / "ray", backend="ray", workers=2, progress=False)
    assert local["ran"] == stats["ran"] == 2 and stats["failed"] == 0
    assert ray_cluster.is_initialized()  # the sweep used the cluster it found and left it running
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(tmp_path / "ray" / "sweep.parquet")),
                                  comparable(pd.read_parquet(tmp_path / "local" / "sweep.parquet")))


@pytest.fixture(scope="module")
def small_run(rural_study):
    """Three rural days of 5 loads + the aggregator: sampled values, LP-dual bound core checks, row generation."""
    from p2psim.runner import run

    community = replace(rural_study.community, max_participants=5)
    return run(replace(rural_study, community=community, days=3, allocation=False, explain=False))


def test_an_allocation_stage_on_ray_gives_the_local_rows(ray_cluster, small_run):
    from p2psim.energy_game.allocate import AllocationOptions, allocate

    options = AllocationOptions(seed=0, exact_max_players=4, workers=2)
    ticks = []
    local = allocate(small_run, replace(options, backend="local"), progress=ticks.append)
    remote = allocate(small_run, replace(options, backend="ray"), progress=ticks.append)
    assert ticks == [1] * 6  # one tick a day, each backend
    assert set(local["core"].core_check) == {"exact (LP-dual bounds)"}
    assert local["days"].shapley_pairs.gt(0).all()  # sampled, not enumerated
    for name, table in local.items():
        timing = [c for c in table.columns if "seconds" in c]
        pd.testing.assert_frame_equal(remote[name].drop(columns=timing), table.drop(columns=timing), obj=name)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on leaving: nothing listens there


def test_an_unreachable_ray_address_exits_2_naming_it(tmp_path, capsys):
    from p2psim.cli import main

    address = f"127.0.0.1:{_closed_port()}"
    status = main([str(TINY), "--backend", "ray", "--address", address, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2 and f"--address {address}: no Ray cluster answers there" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # checked before the simulation


@pytest.mark.parametrize(("args", "words"), [
    (["--backend", "slurm"], "--backend 'slurm' is not a backend"),
    (["--address", "127.0.0.1:6379"], "only used with --backend ray"),
    (["--workers", "0"], "--workers 0"),
    (["--backend", "ray", "--address", "nonsense"], "is not host:port"),
])
def test_bad_backend_options_exit_2(tmp_path, capsys, args, words):
    from p2psim.cli import main

    assert main([str(TINY), *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert words in err and not (tmp_path / "o").exists()
