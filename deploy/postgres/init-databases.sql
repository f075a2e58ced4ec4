-- One database per service (each keeps its own schema and migration history).
-- The postgres image runs this once, as POSTGRES_USER, when its data volume is empty;
-- on an existing volume it is skipped: `docker compose down -v` starts over.
CREATE DATABASE intake;
CREATE DATABASE dispatch;
CREATE DATABASE parts;
CREATE DATABASE claims;
CREATE DATABASE billing;
