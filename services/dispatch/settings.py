from __future__ import annotations

from datetime import timedelta
from functools import cache, lru_cache

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.dispatch.domain.arrival import ArrivalTargets
from services.dispatch.domain.calendar import WorkingHours
from shared.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/dispatch.db"
    port: int = 8002
    # Where technicians' shifts and the working hours of arrival targets are read.
    calendar_zone: str = "Asia/Shanghai"
    # Working hours in which the city and suburb arrival targets are counted.
    working_hours: str = "mon-fri 09:00-18:00"
    holidays: str = ""
    # Travel time from great-circle distance.
    travel_speed_kmh: float = Field(40.0, gt=0)
    # Arrival targets (DOMAIN §2).
    arrival_city_hours: float = Field(3.0, gt=0)
    arrival_suburb_hours: float = Field(7.0, gt=0)
    local_radius_km: float = Field(50.0, ge=0)
    arrival_within_300km_hours: float = Field(24.0, gt=0)
    arrival_within_1000km_hours: float = Field(48.0, gt=0)
    arrival_beyond_hours: float = Field(72.0, gt=0)
    near_km: float = Field(300.0, gt=0)
    far_km: float = Field(1000.0, gt=0)
    loaner_after_hours: float = Field(12.0, gt=0)
    loaner_within_hours: float = Field(24.0, gt=0)
    repeat_repair_days: int = Field(90, ge=1)
    # How often the SLA monitor runs and unassigned jobs are tried again.
    monitor_seconds: float = Field(30.0, gt=0)
    retry_unassigned_seconds: float = Field(60.0, gt=0)
    # Arrival due within this many minutes: the job is "at risk" on the board.
    at_risk_minutes: int = Field(60, ge=1)
    max_signature_bytes: int = Field(200_000, ge=1000)

    @model_validator(mode="after")
    def _calendar_read(self) -> DispatchSettings:
        # A mistake here is found when the service starts, not at the first request.
        self.service_hours()
        return self

    def service_hours(self) -> WorkingHours:
        return _service_hours(self.calendar_zone, self.working_hours, self.holidays)

    def arrival_targets(self) -> ArrivalTargets:
        return ArrivalTargets(
            city=timedelta(hours=self.arrival_city_hours),
            suburb=timedelta(hours=self.arrival_suburb_hours),
            local_radius_km=self.local_radius_km,
            near_km=self.near_km,
            near=timedelta(hours=self.arrival_within_300km_hours),
            far_km=self.far_km,
            far=timedelta(hours=self.arrival_within_1000km_hours),
            farthest=timedelta(hours=self.arrival_beyond_hours),
            loaner_after=timedelta(hours=self.loaner_after_hours),
            loaner_within=timedelta(hours=self.loaner_within_hours),
        )

    @property
    def repeat_window(self) -> timedelta:
        return timedelta(days=self.repeat_repair_days)


@lru_cache(maxsize=16)
def _service_hours(zone: str, working_hours: str, holidays: str) -> WorkingHours:
    # Asked for on every assignment and arrival due time: parsed once, and the calendar's
    # own memory of its days (``WorkingHours.spans_on``) is kept with it.
    return WorkingHours.parse(zone, working_hours, holidays)


@cache
def settings_from_env() -> DispatchSettings:
    return DispatchSettings()


_STARTED: list[DispatchSettings] = []


def use_for_handlers(settings: DispatchSettings) -> None:
    """Called when the service starts: event handlers get no request to read settings from."""
    _STARTED[:] = [settings]


def handler_settings() -> DispatchSettings:
    """The settings of the service this process started, else the environment's."""
    return _STARTED[0] if _STARTED else settings_from_env()
