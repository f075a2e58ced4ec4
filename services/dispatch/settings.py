from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/dispatch.db"
    port: int = 8002
