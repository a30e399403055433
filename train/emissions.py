"""The carbon footprint of a training run: codecarbon's offline tracker. It needs no network: the carbon
intensity of the grid comes from codecarbon's table for the country, the power from the hardware it finds
(RAPL or the CPU's TDP, NVML for GPUs)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

from curation.errors import ConfigError


@dataclass
class Emissions:
    emissions_kg: float
    energy_kwh: float
    duration_s: float
    country_iso_code: str
    country_name: str
    cpu_model: str
    cpu_count: int
    gpu_model: str
    gpu_count: int
    ram_total_gb: float
    tracking_mode: str
    codecarbon_version: str

    @property
    def hardware(self) -> str:
        cpu = f"{self.cpu_model} CPU ({self.cpu_count} cores)"
        return f"{self.gpu_count} x {self.gpu_model}, {cpu}" if self.gpu_count else f"{cpu}, no GPU"

    def as_json(self) -> dict:
        return asdict(self) | {"emissions_g": self.emissions_kg * 1000, "hardware": self.hardware}


def grid_country(country: str) -> tuple[str, str]:
    """ISO 3166 alpha-3 code and name of a country (code or name) in codecarbon's energy-mix table."""
    import pycountry
    from codecarbon.input import DataSource

    try:
        code = pycountry.countries.lookup(country).alpha_3
    except LookupError:
        raise ConfigError(f"country {country!r}: not an ISO 3166 country code or name") from None
    energy_mix = DataSource().get_global_energy_mix_data()
    if code not in energy_mix:
        raise ConfigError(f"country {country!r}: codecarbon has no carbon intensity for {code}; give the "
                          "country of a neighbouring grid")
    return code, energy_mix[code]["country_name"]


class EmissionsTracker:
    """`with EmissionsTracker("ES", folder) as tracker:` measures the block; then `tracker.result`.
    codecarbon's own CSV (emissions.csv) is written to `folder` too."""

    def __init__(self, country: str, folder: Path):
        from codecarbon import OfflineEmissionsTracker
        from codecarbon.output_methods.base_output import OutputMethod

        code, _ = grid_country(country)
        # Its INFO lines would bury the training's progress.
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        self._tracker = OfflineEmissionsTracker(
            country_iso_code=code, project_name="curation-train", output_methods=[OutputMethod.CSV],
            output_dir=str(folder), output_file="emissions.csv", log_level="error",
            # This process only: a shared machine's other work is not the training's footprint.
            tracking_mode="process")
        self.result: Emissions | None = None

    def __enter__(self) -> Self:
        self._tracker.start()
        return self

    def __exit__(self, *_) -> None:
        self._tracker.stop()
        data = self._tracker.final_emissions_data
        self.result = Emissions(
            emissions_kg=data.emissions, energy_kwh=data.energy_consumed, duration_s=data.duration,
            country_iso_code=data.country_iso_code, country_name=data.country_name, cpu_model=data.cpu_model,
            cpu_count=int(data.cpu_count), gpu_model=data.gpu_model or "", gpu_count=int(data.gpu_count or 0),
            ram_total_gb=data.ram_total_size, tracking_mode=data.tracking_mode,
            codecarbon_version=data.codecarbon_version)
