"""Rates from the SONATA spike report with the tools SONATA users have (libsonata, bmtk):
divided by the simulated intervals recorded beside the spikes they equal the run's own rate
readout; divided by the span of the timestamps (what both tools do by default) they do not.
The recipes are those of docs/output_format.md."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import yaml
from helpers.fake_engine import fake_run

from ketamine_sim.experiments.results import read_results

libsonata = pytest.importorskip("libsonata")


@pytest.fixture(scope="module")
def infusion(tmp_path_factory):
    return fake_run(tmp_path_factory.mktemp("infusion"), [])


def _config(path):
    data = read_results(path)
    circuit = yaml.safe_load(data.config_yaml)["circuit"]
    return data, circuit["counts"], circuit["transient_s"] * 1e3


def test_libsonata_rates_per_simulated_interval_equal_the_readout(infusion):
    data, counts, transient_ms = _config(infusion)
    # the recipe of docs/output_format.md
    reader = libsonata.SpikeReader(str(infusion))
    with h5py.File(infusion, "r") as f:
        intervals = f["spikes/pyr/simulated_intervals"][()]  # (windows, 2), ms
    pyr = reader["pyr"]
    rates = []
    for start, stop in intervals:
        spikes = pyr.get(tstart=start + transient_ms, tstop=stop)
        rates.append(len(spikes) / (counts["pyr"] * (stop - start - transient_ms) / 1e3))
    np.testing.assert_allclose(rates, data.readouts["pyr"]["rate"], rtol=1e-12)
    assert len(intervals) == len(data.windows["start_s"]) > 3
    # what a reader gets that divides by the span of the timestamps instead
    tstart, tstop = pyr.times
    naive = len(pyr.get()) / (counts["pyr"] * (tstop - tstart) / 1e3)
    assert naive < 0.1 * np.mean(rates)


def test_bmtk_rates_per_simulated_interval_equal_the_readout(infusion):
    pytest.importorskip("bmtk")
    from bmtk.utils.reports.spike_trains import SpikeTrains

    data, counts, transient_ms = _config(infusion)
    spikes = SpikeTrains.load(str(infusion)).to_dataframe(populations="pyr")
    with h5py.File(infusion, "r") as f:
        intervals = f["spikes/pyr/simulated_intervals"][()]
    rates = []
    for start, stop in intervals:
        inside = spikes[(spikes.timestamps >= start + transient_ms) & (spikes.timestamps < stop)]
        rates.append(len(inside) / (counts["pyr"] * (stop - start - transient_ms) / 1e3))
    np.testing.assert_allclose(rates, data.readouts["pyr"]["rate"], rtol=1e-12)
