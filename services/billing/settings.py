from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/billing.db"
    port: int = 8005
