"""The one validation idiom for values a user sets: frozen pydantic models whose errors surface as one
`AfdscopeError` line naming the field (library terms; the CLI maps fields to its flags)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from afdscope.errors import AfdscopeError


def first_error(exc: ValidationError, what: str) -> AfdscopeError:
    """A pydantic error as one line: our own AfdscopeError raised inside a validator passes through
    unchanged; otherwise '<what>.<field> = <value>: <pydantic message>'."""
    err = exc.errors()[0]
    inner = err.get("ctx", {}).get("error")
    if isinstance(inner, AfdscopeError):
        return inner
    field = ".".join(str(p) for p in err["loc"]) or "value"
    value = err.get("input")
    shown = f" = {value!r}" if not isinstance(value, dict) else ""
    return AfdscopeError(f"{what}.{field}{shown}: {err['msg']}")


class Validated(BaseModel):
    """Frozen, no unknown fields, arrays and dataclass values allowed; errors as AfdscopeError."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    def __init__(self, **data):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise first_error(exc, type(self).__name__) from None

    def replace(self, **changes):
        """A copy with `changes` applied and validated again (model_copy does not validate)."""
        return type(self)(**(dict(self.__dict__) | changes))
