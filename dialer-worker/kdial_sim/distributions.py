"""Time distributions for a scenario's ring, talk and post-dial delays, in seconds.

Written in YAML as `{dist: fixed, value: 3}`, `{dist: uniform, min: 2, max: 9}`,
`{dist: lognormal, median: 8, sigma: 0.5}` or `{dist: exponential, mean: 30}`; a bare number is
short for `fixed`. `min`/`max` clamp lognormal and exponential draws, whose tails are long.
"""

from __future__ import annotations

import math
import random
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_MODEL = ConfigDict(extra="forbid", frozen=True)


class Fixed(BaseModel):
    model_config = _MODEL
    dist: Literal["fixed"] = "fixed"
    value: float = Field(ge=0)

    def sample(self, rng: random.Random) -> float:
        return self.value


class Uniform(BaseModel):
    model_config = _MODEL
    dist: Literal["uniform"]
    min: float = Field(ge=0)
    max: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"uniform needs min <= max (got min {self.min}, max {self.max})")
        return self

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.min, self.max)


class _Clamped(BaseModel):
    model_config = _MODEL
    min: float = Field(default=0, ge=0)
    max: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"needs min <= max (got min {self.min}, max {self.max})")
        return self

    def _clamp(self, value: float) -> float:
        upper = math.inf if self.max is None else self.max
        return min(max(value, self.min), upper)


class LogNormal(_Clamped):
    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(default=0.5, ge=0)

    def sample(self, rng: random.Random) -> float:
        return self._clamp(rng.lognormvariate(math.log(self.median), self.sigma))


class Exponential(_Clamped):
    dist: Literal["exponential"]
    mean: float = Field(gt=0)

    def sample(self, rng: random.Random) -> float:
        return self._clamp(rng.expovariate(1.0 / self.mean))


def _number_is_fixed(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


Distribution = Annotated[
    Fixed | Uniform | LogNormal | Exponential,
    Field(discriminator="dist"),
    BeforeValidator(_number_is_fixed),
]
