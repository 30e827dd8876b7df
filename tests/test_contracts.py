"""One parameter contract for every registered forecaster, detector, scenario and TM estimator.

For each name the registries return: ``get_params`` (read from the constructor) survives ``clone``,
``repr`` shows every parameter, the defaults validate, every declared ``Interval`` refuses a value
outside it with the one message form ("The 'x' parameter of Foo must be ... Got ... instead.")
both from ``validate()`` and when work starts (``fit`` / ``apply``), and unknown names and
parameters raise :class:`~surgeguard.ValidationError`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from surgeguard import TrafficSeries
from surgeguard.detect import DETECTORS, get_detector
from surgeguard.estimate import ESTIMATORS, get_estimator
from surgeguard.exceptions import ValidationError
from surgeguard.forecast import FORECASTERS, get_forecaster
from surgeguard.scenario import SCENARIOS, get_scenario
from surgeguard.validation import Interval, Params

REGISTRIES = {"forecaster": FORECASTERS, "detector": DETECTORS, "scenario": SCENARIOS, "estimator": ESTIMATORS}
GETTERS = {"forecaster": get_forecaster, "detector": get_detector, "scenario": get_scenario,
           "estimator": get_estimator}
CASES = [(kind, name) for kind, reg in REGISTRIES.items() for name in reg.names()]


def _series() -> TrafficSeries:
    t = pd.date_range("2020-03-16", periods=72, freq="h", tz="UTC")
    v = np.ones((len(t), 2, 2)) * 1e9
    return TrafficSeries(v, ["A", "B"], t, name="flat")


def _start_work(kind: str, obj) -> None:
    """What a user calls to make the object work: it must check the parameters first."""
    if kind == "scenario":
        obj.apply(_series())
    else:
        obj.fit(_series())


def _outside(interval: Interval) -> list:
    """Values just outside each finite bound of ``interval``."""
    one = 1 if interval.kind is int else 1.0
    out = []
    if interval.low is not None:
        out.append(interval.kind(interval.low) - one)
    if interval.high is not None:
        out.append(interval.kind(interval.high) + one)
    return out


def _bad_values():
    for kind, name in CASES:
        cls = REGISTRIES[kind][name]
        for param, cons in getattr(cls, "_parameter_constraints", {}).items():
            for c in cons:
                if isinstance(c, Interval):
                    for bad in _outside(c):
                        yield pytest.param(kind, name, param, bad, id=f"{kind}-{name}-{param}={bad}")


def test_every_registry_is_populated():
    assert {"naive", "seasonal_naive", "ets", "mstl", "lgbm", "neural"} <= set(FORECASTERS.names())
    assert {"cusum", "residual"} <= set(DETECTORS.names())
    assert {"none", "lockdown"} <= set(SCENARIOS.names())
    assert {"gravity", "tomogravity", "history"} <= set(ESTIMATORS.names())


@pytest.mark.parametrize("kind, name", CASES)
def test_get_params_clone_repr(kind, name):
    obj = REGISTRIES[kind].get(name)
    assert isinstance(obj, Params)
    assert obj.name == name
    params = obj.get_params()
    copy = obj.clone()
    assert type(copy) is type(obj) and copy is not obj
    assert copy.get_params() == params
    text = repr(obj)
    assert text.startswith(f"{type(obj).__name__}(")
    for key, value in params.items():
        assert f"{key}={value!r}" in text
    assert obj.validate() is obj


@pytest.mark.parametrize("kind, name", CASES)
def test_declared_constraints_name_constructor_parameters(kind, name):
    obj = REGISTRIES[kind].get(name)
    declared = set(getattr(type(obj), "_parameter_constraints", {}))
    assert declared <= set(obj.get_params()), f"constraints for unknown parameters: {declared - set(obj.get_params())}"


@pytest.mark.parametrize("kind, name, param, bad", list(_bad_values()))
def test_out_of_range_parameter_gives_the_one_message(kind, name, param, bad):
    cls = REGISTRIES[kind][name]
    assert not any(c.accepts(bad) for c in cls._parameter_constraints[param])
    obj = REGISTRIES[kind].get(name, **{param: bad})
    shown = re.escape(repr(getattr(obj, param)))
    msg = rf"^The '{param}' parameter of {cls.__name__} must be .+\. Got {shown} instead\.$"
    with pytest.raises(ValidationError, match=msg):
        obj.validate()
    with pytest.raises(ValidationError, match=msg):
        _start_work(kind, obj)


@pytest.mark.parametrize("kind, name", CASES)
def test_clone_keeps_a_changed_parameter(kind, name):
    obj = REGISTRIES[kind].get(name)
    params = obj.get_params()
    for key, value in params.items():
        if isinstance(value, float) and not isinstance(value, bool):
            changed = REGISTRIES[kind].get(name, **{key: value + 0.01})
            assert changed.clone().get_params()[key] == pytest.approx(value + 0.01)
            break


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_unknown_name_is_a_validation_error(kind):
    with pytest.raises(ValidationError, match=rf"unknown {kind} 'no_such_thing'; choose one of: "):
        REGISTRIES[kind].get("no_such_thing")
    with pytest.raises(ValidationError, match="choose one of"):
        GETTERS[kind]("no_such_thing")


@pytest.mark.parametrize("kind, name", CASES)
def test_unknown_parameter_is_a_validation_error(kind, name):
    with pytest.raises(ValidationError, match=r"no_such_param"):
        REGISTRIES[kind].get(name, no_such_param=1)


@pytest.mark.parametrize("name", SCENARIOS.names())
def test_unknown_key_in_a_scenario_spec_is_a_validation_error(name):
    with pytest.raises(ValidationError, match="no_such_param"):
        get_scenario(f"{name}:no_such_param=1")


@pytest.mark.parametrize("kind, name, param, bad, shown", [
    ("forecaster", "mstl", "season_days", (1.0, -7.0), "-7.0"),
    ("forecaster", "mstl", "season_days", (), "()"),
    ("forecaster", "lgbm", "lags", (1, 0), "0"),
    ("scenario", "lockdown", "weekend_days", (5, 7), "7"),
    ("scenario", "lockdown", "regions", {"North": -1.0}, "-1.0"),
    ("scenario", "lockdown", "class_factors", {"critical": 0.0}, "0.0"),
])
def test_each_item_of_a_sequence_parameter_is_checked(kind, name, param, bad, shown):
    obj = REGISTRIES[kind].get(name, **{param: bad})
    cls = type(obj).__name__
    msg = rf"^The '{param}' parameter of {cls} must be .+\. Got {re.escape(shown)} instead\.$"
    with pytest.raises(ValidationError, match=msg):
        obj.validate()
    with pytest.raises(ValidationError, match=msg):
        _start_work(kind, obj)
