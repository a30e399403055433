"""Connecting to Ray: a cluster's address, or a small local instance; the settings every run uses."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# The workers need what the driver was told: where the embedding cache is, and to stay off the Hub.
FORWARDED_ENV = ("CURATION_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")
# A local instance (no address) stays small: this machine is shared.
LOCAL_CPUS = 2
LOCAL_OBJECT_STORE_BYTES = 500_000_000
# Idle workers are kept a while: each step's tasks then reuse the processes that imported the engine.
SYSTEM_CONFIG = {"idle_worker_killing_time_threshold_ms": 60_000}


@contextmanager
def connected(address: str | None) -> Iterator[None]:
    """Ray for the length of a run: joined at `address` (auto, ray://host:port or host:port), else started
    here and stopped after. A session someone else started (ray.init() in a notebook) is used as it is."""
    import ray

    _import_before_threads_do()
    if ray.is_initialized():
        with _data_settings():
            yield
        return
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    if address:
        ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False)
    else:
        # "local": a new instance, even where an earlier `ray start` on this machine left its address behind
        ray.init(address="local", num_cpus=LOCAL_CPUS, object_store_memory=LOCAL_OBJECT_STORE_BYTES, include_dashboard=False,
                 runtime_env={"env_vars": env}, log_to_driver=False, _system_config=SYSTEM_CONFIG)
    try:
        with _data_settings():
            yield
    finally:
        ray.shutdown()


def _import_before_threads_do() -> None:
    """Ray Data resolves input paths in a pool of threads, and each thread's first path check imports fsspec's
    HTTP filesystem: concurrent first imports can hand a thread the half-run module (CI saw "cannot import name
    'HTTPFileSystem'"). Imported once here, before any thread, the module is whole for all of them (aiohttp, which
    it needs, comes with the [ray] extra)."""
    import fsspec.implementations.http  # noqa: F401


@contextmanager
def _data_settings() -> Iterator[None]:
    """Ray Data set for the run, and set back after (a caller's session keeps its own settings): no progress
    bars (the run draws its own), and the sort-based shuffle, because Ray 2.60's default shuffle fails on a
    block of no rows and no columns (what a map whose batch kept no rows leaves) with ArrowInvalid."""
    from ray.data.context import DataContext, ShuffleStrategy

    with warnings.catch_warnings():  # Ray 2.60's DataContext() sets its own deprecated use_push_based_shuffle
        warnings.simplefilter("ignore", DeprecationWarning)
        context = DataContext.get_current()
    settings = {"enable_progress_bars": False, "print_on_execution_start": False, "verbose_stats_logs": False,
                "shuffle_strategy": ShuffleStrategy.SORT_SHUFFLE_PULL_BASED}
    before = {name: getattr(context, name) for name in settings}
    for name, value in settings.items():
        setattr(context, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(context, name, value)
