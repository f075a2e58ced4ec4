from services.dispatch.db.models import Base
from shared.db.messaging_tables import messaging_metadata
from shared.db.migrations import run_migrations_in_env

run_migrations_in_env([Base.metadata, messaging_metadata])
