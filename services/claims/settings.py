from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ClaimsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/claims.db"
    port: int = 8004
