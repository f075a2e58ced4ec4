from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/intake.db"
    port: int = 8001
