"""The environment variables a settings class reads, derived from the class itself.

Used by the tests that keep the deployment files and the documentation complete: a field
added to a settings class shows up here without anyone updating a list.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings


def environment_fields(settings_class: type[BaseSettings]) -> dict[str, str]:
    """Environment variable name (upper case) -> the field it sets.

    A field's variable is its alias when it has one (``Field(..., alias="AMQP_URL")``, which
    pydantic-settings reads without the prefix), otherwise the class's ``env_prefix``
    followed by the field name.
    """
    prefix = settings_class.model_config.get("env_prefix", "")
    names: dict[str, str] = {}
    for field_name, field in settings_class.model_fields.items():
        validation_alias = field.validation_alias
        if validation_alias is not None and not isinstance(validation_alias, str):
            # AliasChoices / AliasPath: several or nested names; nothing uses them yet.
            raise NotImplementedError(
                f"{settings_class.__name__}.{field_name}: validation_alias "
                f"{validation_alias!r} is not a plain name"
            )
        alias = validation_alias or field.alias
        env_name = alias if alias else f"{prefix}{field_name}"
        names[env_name.upper()] = field_name
    return names


def environment_variables(settings_class: type[BaseSettings]) -> set[str]:
    """The names of the environment variables ``settings_class`` reads, upper case."""
    return set(environment_fields(settings_class))
