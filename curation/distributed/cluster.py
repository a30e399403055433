"""Connecting to Ray: a cluster's address, or a small local instance; the settings every run uses."""

from __future__ import annotations

import os
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

    if ray.is_initialized():
        _quiet_data()
        yield
        return
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    if address:
        ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False)
    else:
        ray.init(num_cpus=LOCAL_CPUS, object_store_memory=LOCAL_OBJECT_STORE_BYTES, include_dashboard=False,
                 runtime_env={"env_vars": env}, log_to_driver=False, _system_config=SYSTEM_CONFIG)
    try:
        _quiet_data()
        yield
    finally:
        ray.shutdown()


def _quiet_data() -> None:
    """No Ray Data progress bars (the run draws its own), and a task lost with its worker is retried."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.verbose_stats_logs = False
