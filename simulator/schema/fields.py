"""The base of every parameter schema (unknown fields refused, one ParameterError naming the field) and the
field checks the schemas share (model file, encodings file, data folder, an optional finite threshold)."""
from __future__ import annotations

import math
from typing import Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, ValidationError, model_validator

from ..errors import ParameterError
from ..paths import checked_path


def model_file(value) -> str:
    return checked_path(value, "model file", ValueError, expected="the model file itself (e.g. model.onnx)")


def encodings_file(value) -> Optional[str]:
    if value is None or value == "":
        return None  # no encodings: float inference
    return checked_path(value, "encodings file", ValueError,
                        expected="the encodings file itself (e.g. model.encodings)")


def data_folder(value) -> str:
    return checked_path(value, "data folder", ValueError, folder=True,
                        expected="the folder that holds the input data")


def dump_folder(value) -> str:
    return checked_path(value, "dump folder", ValueError, folder=True,
                        expected="the folder of dumped featuremaps")


def _alias(*names: str):
    return AliasChoices(*names)


class _Parameters(BaseModel):
    """Base: forbids unknown fields and turns validation errors into one ParameterError."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True, frozen=False)

    def __init__(self, **data):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ParameterError(_describe(type(self), exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data):
        """A field given under two spellings with different values is ambiguous."""
        if isinstance(data, dict):
            for name, info in cls.model_fields.items():
                alias = info.validation_alias
                choices = [c for c in getattr(alias, "choices", []) if isinstance(c, str)]
                given = [c for c in choices if c in data]
                if len({repr(data[c]) for c in given}) > 1:
                    raise ValueError(f"{name!r} is given twice with different values: "
                                     + ", ".join(f"{c}={data[c]!r}" for c in given))
        return data


def _describe(cls, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        if err["type"] == "extra_forbidden":
            valid = ", ".join(cls.model_fields)
            problems.append(f"unknown field {where!r} (valid fields: {valid})")
        elif err["type"] == "missing":
            problems.append(f"field {where!r} is required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"field {where!r}: {msg}")
    return f"invalid {cls.__name__}: " + "; ".join(problems)


def finite(v, what: str = "threshold "):
    """A number field's value, refused when it is inf or NaN (other types are left to the field's type)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v):
        raise ValueError(f"{what}must be a finite number, got {v!r}")
    return v


def _optional_threshold(v):
    return v if v is None else finite(v)
