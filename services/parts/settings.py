from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class PartsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/parts.db"
    port: int = 8003
