"""The committed profile parameters: provenance, loading, and a refit check on the real data."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from surgeguard import ValidationError
from surgeguard.scenario import ProfileParams, load_profile, profile_document

ROOT = Path(__file__).resolve().parents[1]


def test_profile_json_lists_sources_method_and_date():
    doc = profile_document()
    files = [s["file"] for s in doc["sources"]]
    assert any("abilene" in f and f.endswith(".tar.xz") for f in files)
    assert any("geant" in f and f.endswith(".tar.xz") for f in files)
    assert all(s["citation"] for s in doc["sources"])
    assert "AR(1)" in doc["method"] and doc["script"] == "scripts/fit_traffic_profile.py"
    pd.Timestamp(doc["fitted_on"])  # a date
    assert {"default", "abilene", "geant"} <= set(doc["profiles"])


@pytest.mark.parametrize("name", ["default", "abilene", "geant"])
def test_profiles_load_with_plausible_numbers(name):
    p = load_profile(name)
    assert p.name == name
    assert len(p.harmonics) == 3
    assert 0.05 < p.harmonics[0][0] < 0.6  # log amplitude of the daily harmonic
    assert 0.5 < p.weekend_factor < 1.0
    assert 0 < p.noise_sigma < 0.3 and 0 < p.od_noise_sigma < 1.0
    assert p.noise_tau_minutes > 5 and p.od_dispersion_sigma > 0
    # the normalised profile has mean 1 over a week
    t = pd.date_range("2020-03-02", periods=7 * 24 * 12, freq="5min", tz="UTC")
    assert p.shape(t, 1.0).mean() == pytest.approx(1.0, rel=1e-6)


def test_profile_params_validation_and_overrides():
    with pytest.raises(ValidationError, match="weekend_factor"):
        ProfileParams(weekend_factor=0.0)
    p = load_profile().with_overrides({"noise_sigma": 0.0, "harmonics": [(0.1, 20.0)]})
    assert p.noise_sigma == 0.0 and p.peak_hour() == pytest.approx(20.0)
    with pytest.raises(ValidationError, match="unknown traffic profile"):
        load_profile("nope")


def _fit_module():
    spec = importlib.util.spec_from_file_location("fit_traffic_profile", ROOT / "scripts" / "fit_traffic_profile.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_refit_geant_reproduces_committed_numbers(shared_data):
    mod = _fit_module()
    ds = mod.DATASETS["geant"]
    times, nodes, x = mod.read_sndlib_tar(shared_data / ds["file"])
    assert len(times) == 322 and len(nodes) == 22  # the two empty files are dropped
    assert times[0] == pd.Timestamp("2005-05-04T15:30Z")
    fit = mod.fit_series(times, x, ds["utc_offset_hours"])
    stored = profile_document()["profiles"]["geant"]
    for key in ("weekend_factor", "noise_sigma", "od_noise_sigma", "od_dispersion_sigma"):
        assert fit[key] == pytest.approx(stored[key], rel=1e-3), key
    got = np.array([[h["amplitude"], h["peak_hour"]] for h in fit["harmonics"]])
    want = np.array([[h["amplitude"], h["peak_hour"]] for h in stored["harmonics"]])
    assert np.allclose(got, want, rtol=1e-3, atol=1e-3)
