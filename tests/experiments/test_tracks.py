"""The slow tracks: the interface the protocol loop relies on, and the recipe of
CONTRIBUTING.md ("a new slow mechanism") carried out: a new track registered in one list
adds its traces and columns to the results without a change to the loop, and leaves every
other array as it was."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.fake_engine import FakeEngine

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import compose_config
from ketamine_sim.experiments.protocols import PROTOCOLS
from ketamine_sim.experiments.simulation import timeline, tracks
from ketamine_sim.experiments.simulation.tracks import SlowContext, WindowSpan, registered_tracks

OVERRIDES = ["circuit=small", "experiment=iv_infusion"]


class LactateTrack:
    """A toy mechanism: a pool that follows the pyramidal rate with a 10-min time constant."""

    name = "lactate"

    @classmethod
    def from_context(cls, context: SlowContext) -> LactateTrack:
        return cls(context.protocol.time_s, context.mechanisms.get("lactate_tau_s", 600.0))

    def __init__(self, time_s: np.ndarray, tau_s: float):
        self.t, self.tau_s = time_s, tau_s
        self.pool = np.ones(len(time_s))
        self.rate_ratio, self.baseline = 1.0, None
        self.seen: list[float] = []

    def predict(self, i0: int, i1: int) -> None:
        for i in range(i0 + 1, i1 + 1):
            decay = np.exp(-(self.t[i] - self.t[i - 1]) / self.tau_s)
            self.pool[i] = self.rate_ratio + (self.pool[i - 1] - self.rate_ratio) * decay

    def window_inputs(self, index: int, i_start: int) -> dict:
        return {}  # scales nothing the window knows

    def after_window(self, window: WindowSpan, out, found: dict[str, dict]) -> None:
        rate = found["pyr"]["rate"]
        self.baseline = self.baseline or rate
        self.rate_ratio = rate / self.baseline
        self.pool[window.i_start : window.i_end + 1] = self.pool[window.i_start]
        self.seen.append(self.rate_ratio)

    def traces(self) -> dict[str, tuple[np.ndarray, str]]:
        return {"lactate": (self.pool, "1 (relative to baseline)")}

    def columns(self) -> dict[str, tuple[np.ndarray, str]]:
        return {"lactate_drive": (np.array(self.seen), "1")}


def _run(monkeypatch=None, extra=None):
    cfg = compose_config(OVERRIDES)
    structure = C.circuit_structure(cfg)
    if extra is not None:
        monkeypatch.setattr(tracks, "registered_tracks", lambda: (*registered_tracks(), extra))
        monkeypatch.setattr(timeline, "registered_tracks", tracks.registered_tracks)
    return timeline.run_protocol(
        PROTOCOLS["iv_infusion"](cfg),
        structure,
        C.circuit_drive(cfg),
        FakeEngine(structure),
        int(cfg.seed),
        C.mechanisms(cfg, structure),
        progress=lambda message: None,
    )


def test_every_registered_track_implements_the_interface():
    for cls in registered_tracks():
        assert isinstance(cls.name, str) and cls.name
        for method in ("from_context", "predict", "window_inputs", "after_window", "traces", "columns"):
            assert callable(getattr(cls, method, None)), f"{cls.__name__} lacks {method}"
    names = [cls.name for cls in registered_tracks()]
    assert names == ["block", "chemistry", "plasticity", "network_state"]  # plasticity reads the block's trace


@pytest.mark.slow
def test_a_new_track_adds_its_traces_and_changes_nothing_else(monkeypatch):
    before = _run()
    after = _run(monkeypatch, LactateTrack)
    assert set(after.timeline) - set(before.timeline) == {"lactate"}
    assert set(after.windows) - set(before.windows) == {"lactate_drive"}
    assert after.timeline_units["lactate"] == "1 (relative to baseline)"
    for name, values in before.timeline.items():
        np.testing.assert_array_equal(after.timeline[name], values, err_msg=name)
    for pop, (times, _ids) in before.spikes.items():
        np.testing.assert_array_equal(after.spikes[pop][0], times)
    lactate = after.timeline["lactate"]
    assert lactate[0] == 1.0 and np.all(np.isfinite(lactate))
    # the pool follows the pyramidal rate after the drug window (the fake engine fires more with drug)
    assert after.windows["lactate_drive"][-1] > 1.0 and lactate[-1] > 1.0


def test_tracks_run_in_the_registered_order(monkeypatch):
    """predict runs block before plasticity in each interval (plasticity reads the block trace)."""
    calls: list[str] = []
    originals = {cls: cls.predict for cls in registered_tracks()}
    for cls, original in originals.items():

        def recording(self, i0, i1, _original=original, _name=cls.name):
            calls.append(_name)
            return _original(self, i0, i1)

        monkeypatch.setattr(cls, "predict", recording)
    _run()
    assert calls[:4] == ["block", "chemistry", "plasticity", "network_state"]
    assert len(calls) % 4 == 0


@pytest.mark.parametrize("missing", ["chemistry", "plasticity", "network_state"])
def test_a_track_without_its_parameters_fails_at_once(missing):
    cfg = compose_config(OVERRIDES)
    structure = C.circuit_structure(cfg)
    mechanisms = {k: v for k, v in C.mechanisms(cfg, structure).items() if k != missing}
    with pytest.raises(KeyError, match=missing):
        timeline.run_protocol(
            PROTOCOLS["iv_infusion"](cfg),
            structure,
            C.circuit_drive(cfg),
            FakeEngine(structure),
            1,
            mechanisms,
            progress=lambda message: None,
        )


class _Recording(FakeEngine):
    """The stand-in engine, keeping every window's values and output."""

    def __init__(self, structure):
        super().__init__(structure)
        self.values, self.outputs = [], []

    def run_window(self, values, connect_seed, noise_seed):
        out = super().run_window(values, connect_seed, noise_seed)
        self.values.append(values)
        self.outputs.append(out)
        return out


@pytest.mark.parametrize("carry", [True, False])
def test_a_carried_window_starts_from_exactly_the_state_the_last_one_ended_with(carry):
    """circuit.carry_state=true: every network-state variable handed to window k + 1 is window k's
    final value, bit for bit, and the windows say so; false: potentials drawn afresh, no
    synaptic activity (the default, as before)."""
    from ketamine_sim.circuits.spiking.window import NETWORK_STATE_VARIABLES

    cfg = compose_config(["circuit=small", "experiment=iv_infusion", f"circuit.carry_state={str(carry).lower()}"])
    structure = C.circuit_structure(cfg)
    engine = _Recording(structure)
    result = timeline.run_protocol(
        PROTOCOLS["iv_infusion"](cfg),
        structure,
        C.circuit_drive(cfg),
        engine,
        1,
        C.mechanisms(cfg, structure),
        progress=lambda done: None,
    )
    n = len(engine.values)
    assert n > 2
    expected = np.r_[0.0, np.ones(n - 1)] if carry else np.zeros(n)
    np.testing.assert_array_equal(result.windows["network_state_carried"], expected)
    for k in range(1, n):
        for pop in ("pyr", "pv", "sst"):
            for name in NETWORK_STATE_VARIABLES:
                handed, final = engine.values[k][pop][name], engine.outputs[k - 1].state[pop][name]
                if carry:
                    np.testing.assert_array_equal(handed, final)
                elif name == "v":
                    assert not np.array_equal(handed, final)
                else:
                    assert handed == 0.0
