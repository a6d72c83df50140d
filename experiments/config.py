"""From a composed config to model objects, with one clear error per bad field.

Every check runs before any simulation; a failure raises :class:`ConfigError`, which
names the field (as a Hydra override path) and what is allowed. The command line prints
it as one line, without a traceback.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from circuits.cells import POPULATIONS, CellParameters
from circuits.compounds import DRUGS, parse_concentration_uM
from circuits.network import BackgroundInput, CircuitDrive, CircuitStructure
from circuits.neurochemistry import NeurochemistryParameters
from circuits.vesicles import VesicleParameters
from circuits.pharmacokinetics import BRAIN_PARTITIONS, PK_MODELS, ROUTES, DosingEvent, PKParameters
from circuits.pharmacology import FITS, MAX_CONCENTRATION_UM, block_parameters
from circuits.plasticity import BrainState, PlasticityParameters
from circuits.receptors import SynapseParameters

from .engine import BACKENDS

EXPERIMENTS = ("iv_infusion", "bath", "evoked_release", "dose_response", "course", "scorecard")


class ConfigError(ValueError):
    """A bad config value: ``field`` is the override path, the message says what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _get(cfg, path: str) -> Any:
    node = cfg
    for part in path.split("."):
        try:
            node = node[int(part) if part.isdigit() else part]
        except (KeyError, TypeError, AttributeError):
            raise ConfigError(path, "missing") from None
    return node


def _number(cfg, path: str, minimum: float | None = None, maximum: float | None = None, strict: bool = False,
            integer: bool = False) -> float:
    value = _get(cfg, path)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(path, f"must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(path, f"must be finite, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ConfigError(path, f"must be {'>' if strict else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(path, f"must be <= {maximum}, got {value}")
    return value


def _choice(cfg, path: str, allowed) -> str:
    value = _get(cfg, path)
    if value not in allowed:
        raise ConfigError(path, f"unknown value {value!r}; allowed: {', '.join(map(str, allowed))}")
    return value


def _pathways(cfg, path: str, maximum: float | None = None) -> dict[tuple[str, str], float]:
    out = {}
    for key in _get(cfg, path):
        pre, _, post = str(key).partition("_")
        if pre not in POPULATIONS or post not in POPULATIONS:
            raise ConfigError(f"{path}.{key}", f"unknown pathway; use pre_post with populations {', '.join(POPULATIONS)}")
        out[(pre, post)] = _number(cfg, f"{path}.{key}", minimum=0, maximum=maximum)
    return out


def _is_list(value) -> bool:
    return not isinstance(value, (str, bytes)) and hasattr(value, "__len__")


def _flag(cfg, path: str) -> bool:
    value = _get(cfg, path)
    if not isinstance(value, bool):
        raise ConfigError(path, f"must be true or false, got {value!r}")
    return value


def _per_population(cfg, path: str, **limits) -> dict[str, float]:
    return {pop: _number(cfg, f"{path}.{pop}", **limits) for pop in POPULATIONS}


def circuit_structure(cfg) -> CircuitStructure:
    c = "circuit"
    cells = {}
    for pop in POPULATIONS:
        fields = {name: _number(cfg, f"{c}.cells.{pop}.{name}") for name in CellParameters.__dataclass_fields__}
        try:
            cells[pop] = CellParameters(**fields)
        except ValueError as error:
            raise ConfigError(f"{c}.cells.{pop}", str(error)) from None
    syn_fields = {name: _number(cfg, f"{c}.synapses.{name}") for name in SynapseParameters.__dataclass_fields__}
    if syn_fields["delay_ms"] < _number(cfg, f"{c}.dt_ms", minimum=0, strict=True):
        # synapses read the presynaptic release of the spike, which is set at its reset (same step)
        raise ConfigError(f"{c}.synapses.delay_ms", f"must be >= circuit.dt_ms ({cfg.circuit.dt_ms}), got {syn_fields['delay_ms']}")
    try:
        synapses = SynapseParameters(**syn_fields)
    except ValueError as error:
        raise ConfigError(f"{c}.synapses", str(error)) from None
    window_s = _number(cfg, f"{c}.window_s", minimum=0, strict=True)
    transient_s = _number(cfg, f"{c}.transient_s", minimum=0, maximum=window_s * 0.9)
    return CircuitStructure(
        name=str(_get(cfg, f"{c}.name")),
        counts={pop: int(_number(cfg, f"{c}.counts.{pop}", minimum=1, integer=True)) for pop in POPULATIONS},
        reference_counts={pop: int(_number(cfg, f"{c}.reference_counts.{pop}", minimum=1, integer=True)) for pop in POPULATIONS},
        connection_probability=_pathways(cfg, f"{c}.connection_probability", maximum=1),
        cells=cells,
        synapses=synapses,
        g_nmda_max_nS=_per_population(cfg, f"{c}.g_nmda_max_nS", minimum=0, strict=True),
        background=BackgroundInput(int(_number(cfg, f"{c}.background.n_sources", minimum=0, integer=True)),
                                   _number(cfg, f"{c}.background.rate_hz", minimum=0)),
        block=block_parameters(_choice(cfg, "block.fit", FITS), escape=bool(_get(cfg, "block.trapping_escape"))),
        dt_ms=_number(cfg, f"{c}.dt_ms", minimum=0, strict=True),
        window_s=window_s,
        transient_s=transient_s,
        threads=int(_number(cfg, "backend.threads", minimum=1, integer=True)),
        spine_occupancy=_spine_occupancy(cfg),
    )


def _spine_occupancy(cfg) -> float:
    path = "circuit.spine_sites.occupancy"
    value = _number(cfg, path, minimum=0, maximum=1, strict=True)
    p_ee = float(_get(cfg, "circuit.connection_probability.pyr_pyr"))
    if value < p_ee:
        raise ConfigError(path, f"must be >= circuit.connection_probability.pyr_pyr ({p_ee}): sites are compiled "
                                f"with probability p / occupancy, got {value}")
    return value


def brain_state(cfg) -> BrainState:
    return BrainState(name=str(_get(cfg, "state.name")),
                      **{k: _number(cfg, f"state.{k}", minimum=0, strict=True)
                         for k in ("bdnf_tone", "elimination_scale", "ee_weight_scale")})


def plasticity(cfg, structure: CircuitStructure | None = None):
    """The plasticity settings (parameters, brain state, switches) of the run."""
    from experiments.plasticity_track import PlasticitySettings

    p = "plasticity"
    params = PlasticityParameters(
        activity_threshold=_number(cfg, f"{p}.activity_threshold", minimum=0),
        bdnf_gain=_number(cfg, f"{p}.bdnf_gain", minimum=0),
        bdnf_tau_h=_number(cfg, f"{p}.bdnf_tau_h", minimum=0, strict=True),
        mtor_tau_h=_number(cfg, f"{p}.mtor_tau_h", minimum=0, strict=True),
        protein_gain=_number(cfg, f"{p}.protein_gain", minimum=0),
        protein_tau_h=_number(cfg, f"{p}.protein_tau_h", minimum=0, strict=True),
        formation_gain=_number(cfg, f"{p}.formation_gain", minimum=0),
        elimination_per_day=_number(cfg, f"{p}.elimination_per_day", minimum=0, strict=True),
        glun2b_rest_gain=_number(cfg, f"{p}.glun2b_rest_gain", minimum=0),
        setpoint_tau_h=_number(cfg, f"{p}.setpoint_tau_h", minimum=0, strict=True),
        occupancy=(structure or circuit_structure(cfg)).spine_occupancy,
    )
    return PlasticitySettings(params=params, state=brain_state(cfg), enabled=_flag(cfg, f"{p}.enabled"),
                              formation_blocked=_flag(cfg, "manipulation.spine_formation_block"))


def manipulation_window(cfg, name: str) -> tuple[float, float] | None:
    """``manipulation.<name>_window_min``: null (the whole protocol) or [from, to] in minutes
    on the dosing clock."""
    path = f"manipulation.{name}_window_min"
    value = _get(cfg, path)
    if value is None:
        return None
    if not _is_list(value) or len(value) != 2:
        raise ConfigError(path, f"must be null or [from_min, to_min], got {value!r}")
    start, stop = _number(cfg, f"{path}.0"), _number(cfg, f"{path}.1")
    if stop <= start:
        raise ConfigError(path, f"must end after it starts, got [{start}, {stop}]")
    return start, stop


def vesicles(cfg) -> VesicleParameters:
    v = "circuit.vesicles"
    return VesicleParameters(
        u_release=_number(cfg, f"{v}.u_release", minimum=0, maximum=1, strict=True),
        tau_rec_ms=_number(cfg, f"{v}.tau_rec_ms", minimum=0, strict=True),
        recycling_slowing=_number(cfg, f"{v}.recycling_slowing", minimum=0),
        depression=_flag(cfg, f"{v}.depression"),
    )


def circuit_drive(cfg) -> CircuitDrive:
    return CircuitDrive(
        weight_nS=_pathways(cfg, "circuit.weight_nS"),
        nmda_ratio=_per_population(cfg, "circuit.nmda_ratio", minimum=0),
        background_weight_nS=_per_population(cfg, "circuit.background.weight_nS", minimum=0),
        vesicles=vesicles(cfg),
        drug_targets=drug_targets(cfg),
        hnk_ampa_gain=_number(cfg, "hnk_ampa.gain", minimum=0),
        hnk_ampa_ec50_uM=_number(cfg, "hnk_ampa.ec50_uM", minimum=0, strict=True),
        # with a time window, the protocol's schedule applies the block (manipulation_schedule)
        ampa_available=1.0 - (_number(cfg, "manipulation.ampa_block_fraction", minimum=0, maximum=1)
                              if manipulation_window(cfg, "ampa_block") is None else 0.0),
    )


def drug_targets(cfg) -> tuple[str, ...]:
    """``block.targets``: the populations whose NMDA receptors the drug reaches."""
    path = "block.targets"
    values = _get(cfg, path)
    if not _is_list(values):
        raise ConfigError(path, f"must be a list of populations ({', '.join(POPULATIONS)}), got {values!r}")
    for value in values:
        if value not in POPULATIONS:
            raise ConfigError(path, f"unknown population {value!r}; allowed: {', '.join(POPULATIONS)}")
    return tuple(str(v) for v in values)


def neurochemistry(cfg) -> NeurochemistryParameters:
    n = "neurochemistry"
    return NeurochemistryParameters(
        glutamate_pool=_flag(cfg, f"{n}.glutamate_pool"),
        glutamate_tau_min=_number(cfg, f"{n}.glutamate_tau_min", minimum=0, strict=True),
        adenosine_feedback=_flag(cfg, f"{n}.adenosine_feedback"),
        adenosine_tau_min=_number(cfg, f"{n}.adenosine_tau_min", minimum=0, strict=True),
        adenosine_gain=_number(cfg, f"{n}.adenosine_gain", minimum=0),
        a1_max_inhibition=_number(cfg, f"{n}.a1_max_inhibition", minimum=0, maximum=0.99),
        a1_half_effect=_number(cfg, f"{n}.a1_half_effect", minimum=0, strict=True),
        a1_hill=_number(cfg, f"{n}.a1_hill", minimum=0, strict=True),
    )


def manipulation_schedule(cfg, clock_s) -> tuple[np.ndarray | None, np.ndarray | None]:
    """On a dosing clock (s): the AMPA availability (None when NBQX is absent or present
    throughout; then ``circuit_drive`` carries it) and the mTOR gate (1 - rapamycin block)."""
    clock_min = np.asarray(clock_s, dtype=float) / 60.0

    def schedule(name: str, window) -> np.ndarray:
        fraction = _number(cfg, f"manipulation.{name}_fraction", minimum=0, maximum=1)
        start, stop = window
        return np.where((clock_min >= start) & (clock_min < stop), 1.0 - fraction, 1.0)

    ampa_window = manipulation_window(cfg, "ampa_block")
    ampa = None if ampa_window is None else schedule("ampa_block", ampa_window)
    return ampa, schedule("mtor_block", manipulation_window(cfg, "mtor_block") or (-np.inf, np.inf))


def a1_antagonist(cfg) -> bool:
    return _flag(cfg, "manipulation.a1_antagonist")


def drug(cfg):
    return DRUGS[_choice(cfg, "drug.name", tuple(DRUGS))]


def pk_parameters(cfg) -> PKParameters:
    base = PK_MODELS[_choice(cfg, "pk.name", tuple(PK_MODELS))]
    partition = _choice(cfg, "pk.brain_partition", BRAIN_PARTITIONS)
    from dataclasses import replace

    return replace(base, brain_partition=partition)


def dosing_events(cfg) -> tuple[list[DosingEvent], float]:
    route = _choice(cfg, "dosing.route", ROUTES)
    duration = _number(cfg, "dosing.duration_min", minimum=0)
    if route == "iv_infusion" and duration <= 0:
        raise ConfigError("dosing.duration_min", f"must be > 0 for route iv_infusion, got {duration}")
    if route != "iv_infusion" and duration != 0:
        raise ConfigError("dosing.duration_min", f"must be 0 for route {route} (only iv_infusion lasts), got {duration}")
    body_weight = _number(cfg, "dosing.body_weight_kg", minimum=0, strict=True)
    if _get(cfg, "dosing.dose_mg") is None:
        dose = _number(cfg, "dosing.dose_mg_per_kg", minimum=0)
    else:  # a flat dose (esketamine's 56 or 84 mg) per body weight
        dose = _number(cfg, "dosing.dose_mg", minimum=0) / body_weight
    days = dose_days(cfg)
    start = _number(cfg, "dosing.start_min")
    events = [DosingEvent(route=route, dose_mg_per_kg=dose, start_min=start + 1440.0 * day, duration_min=duration)
              for day in days]
    return events, body_weight


def dose_days(cfg) -> list[float]:
    """``dosing.days``: day of each dose from the first (strictly increasing, starting at 0)."""
    path = "dosing.days"
    values = _get(cfg, path)
    if not _is_list(values) or len(values) == 0:
        raise ConfigError(path, f"must be a non-empty list of days, got {values!r}")
    days = [_number(cfg, f"{path}.{i}", minimum=0) for i in range(len(values))]
    if days[0] != 0 or any(b <= a for a, b in zip(days, days[1:])):
        raise ConfigError(path, f"must start at 0 and increase strictly, got {days}")
    return days


def bath_concentrations_uM(cfg) -> list[float]:
    path = "bath.concentrations_uM"
    values = _get(cfg, path)
    if not _is_list(values) or len(values) == 0:
        raise ConfigError(path, f"must be a non-empty list of concentrations, got {values!r}")
    molar_mass = drug(cfg).molar_mass
    out = []
    for i, value in enumerate(values):
        try:
            c = parse_concentration_uM(value, molar_mass)
        except ValueError as error:
            raise ConfigError(f"{path}[{i}]", str(error)) from None
        _check_concentration(f"{path}[{i}]", c, value)
        out.append(c)
    if out[0] != 0:
        raise ConfigError(f"{path}[0]", f"the first concentration is the baseline and must be 0, got {values[0]!r}")
    return out


def evoked_concentration_uM(cfg) -> float:
    path = "evoked_release.concentration_uM"
    try:
        value = parse_concentration_uM(_get(cfg, path), drug(cfg).molar_mass)
    except ValueError as error:
        raise ConfigError(path, str(error)) from None
    _check_concentration(path, value, _get(cfg, path))
    return value


def _check_concentration(path: str, value_uM: float, given) -> None:
    """A bath or brain concentration: 0 to MAX_CONCENTRATION_UM (1 mM, over 10x anaesthetic
    brain levels; circuits/pharmacology.py gives the sources)."""
    if not math.isfinite(value_uM) or value_uM < 0:
        raise ConfigError(path, f"must be >= 0, got {given!r}")
    if value_uM > MAX_CONCENTRATION_UM:
        raise ConfigError(path, f"must be <= {MAX_CONCENTRATION_UM:g} uM (1 mM, over 10x anaesthetic brain levels; "
                                f"the model is not valid above), got {given!r} = {value_uM:g} uM")


def train(cfg) -> tuple[int, float]:
    pulses = int(_number(cfg, "evoked_release.train_pulses", minimum=1, integer=True))
    return pulses, 1000.0 / _number(cfg, "evoked_release.train_frequency_hz", minimum=0, strict=True)


def dose_list(cfg) -> list[float]:
    doses = _get(cfg, "dose_response.doses_mg_per_kg")
    if not _is_list(doses) or len(doses) == 0:
        raise ConfigError("dose_response.doses_mg_per_kg", f"must be a non-empty list of doses, got {doses!r}")
    return [_number(cfg, f"dose_response.doses_mg_per_kg.{i}", minimum=0) for i in range(len(doses))]


def course_windows_min(cfg) -> tuple[list[float], float, float]:
    """The course's window times (min on the dosing clock: ``course.windows_per_dose_min``
    around every dose, ``course.window_days_after_last_dose`` up to ``dosing.follow_days``),
    its start and its end (min)."""
    around = [_number(cfg, f"course.windows_per_dose_min.{i}") for i in range(len(_get(cfg, "course.windows_per_dose_min")))]
    after = [_number(cfg, f"course.window_days_after_last_dose.{i}", minimum=0, strict=True)
             for i in range(len(_get(cfg, "course.window_days_after_last_dose")))]
    follow = _number(cfg, "dosing.follow_days", minimum=0, strict=True)
    start = _number(cfg, "course.start_min")
    for key in ("course.timeline_step_s", "course.timeline_step_far_s", "course.fine_hours_after_dose"):
        _number(cfg, key, minimum=0, strict=True)
    if not around or around[0] >= 0:
        raise ConfigError("course.windows_per_dose_min", f"needs a first window before the dose (the baseline), got {around}")
    if around[0] < start:
        raise ConfigError("course.start_min", f"must be <= the first window ({around[0]} min), got {start}")
    first = _number(cfg, "dosing.start_min")
    doses = [first + 1440.0 * d for d in dose_days(cfg)]
    end = doses[-1] + 1440.0 * follow + 30.0  # room for a window on the last day
    times = {round(d + m, 6) for d in doses for m in around} | {round(doses[-1] + 1440.0 * d, 6) for d in after if d <= follow}
    window_min = float(_get(cfg, "circuit.window_s")) / 60.0
    ordered = sorted(times)
    kept = [ordered[0]]
    for m in ordered[1:]:
        if m >= kept[-1] + window_min and m + window_min <= end:
            kept.append(m)
    return kept, first + start, end


def _check_window_times(cfg, block: str, onset_min: float, what: str) -> None:
    path = f"{block}.window_times_min"
    times = [_number(cfg, f"{path}.{i}") for i in range(len(_get(cfg, path)))]
    if not times:
        raise ConfigError(path, "needs at least one window time")
    start = _number(cfg, f"{block}.start_min")
    end = _number(cfg, f"{block}.end_min")
    _number(cfg, f"{block}.timeline_step_s", minimum=0, strict=True)
    if times != sorted(times) or len(set(times)) != len(times):
        raise ConfigError(path, f"must be strictly increasing, got {times}")
    if times[0] >= onset_min:
        raise ConfigError(path, f"the first window ({times[0]} min) is the baseline and must come before {what}")
    if times[0] < start or times[-1] + _get(cfg, "circuit.window_s") / 60 > end:
        raise ConfigError(path, f"windows must lie within {block}.start_min ({start}) and end_min ({end})")


def scorecard_settings(cfg) -> None:
    """``scorecard.*``: known hypotheses, seeds, records, jobs."""
    from pathlib import Path

    from .scorecard import HYPOTHESIS_DIR, SEEDS_DIR, RecordError, load_records, scorable

    known = sorted(p.stem for p in HYPOTHESIS_DIR.glob("*.yaml"))
    hypotheses = _get(cfg, "scorecard.hypotheses")
    if not _is_list(hypotheses) or len(hypotheses) == 0:
        raise ConfigError("scorecard.hypotheses", f"must be a non-empty list of hypotheses ({', '.join(known)})")
    for h in hypotheses:
        if h not in known:
            raise ConfigError("scorecard.hypotheses", f"unknown hypothesis {h!r}; allowed: {', '.join(known)}")
    seeds = _get(cfg, "scorecard.seeds")
    if not _is_list(seeds) or len(seeds) == 0:
        raise ConfigError("scorecard.seeds", f"must be a non-empty list of seeds, got {seeds!r}")
    for i in range(len(seeds)):
        _number(cfg, f"scorecard.seeds.{i}", minimum=0, integer=True)
    _number(cfg, "scorecard.n_jobs", minimum=1, integer=True)
    _number(cfg, "scorecard.none_band", minimum=0)
    folder = _get(cfg, "scorecard.seeds_dir") or SEEDS_DIR
    if not Path(folder).is_dir():
        raise ConfigError("scorecard.seeds_dir", f"not a folder: {folder}")
    records = _get(cfg, "scorecard.records")
    try:
        scorable(load_records(folder), list(records) if records is not None else None)
    except RecordError as error:
        raise ConfigError("scorecard.records" if "scorecard.records" in str(error) else "scorecard.seeds_dir",
                          str(error)) from None


def validate(cfg) -> None:
    """Check every field the chosen experiment uses; raise ConfigError on the first bad one."""
    _number(cfg, "seed", minimum=0, integer=True)
    experiment = _choice(cfg, "experiment.name", EXPERIMENTS)
    _choice(cfg, "backend.name", BACKENDS)
    circuit_structure(cfg)
    circuit_drive(cfg)
    neurochemistry(cfg)
    a1_antagonist(cfg)
    drug(cfg)
    if experiment == "scorecard":
        return scorecard_settings(cfg)
    if experiment == "bath":
        bath_concentrations_uM(cfg)
        _number(cfg, "bath.equilibration_s", minimum=0, strict=True)
        _number(cfg, "bath.timeline_step_s", minimum=0, strict=True)
    elif experiment == "evoked_release":
        evoked_concentration_uM(cfg)
        train(cfg)
        _check_window_times(cfg, "evoked_release", 0.0, "the drug is applied (time 0)")
    else:
        pk_parameters(cfg)
        dosing_events(cfg)
        if experiment == "dose_response":
            dose_list(cfg)
        if experiment == "course":
            course_windows_min(cfg)
        else:
            _check_window_times(cfg, "iv_infusion", _number(cfg, "dosing.start_min"), "dosing.start_min")
    plasticity(cfg)
    if experiment != "bath":
        manipulation_schedule(cfg, [0.0])
    elif manipulation_window(cfg, "ampa_block") or manipulation_window(cfg, "mtor_block"):
        raise ConfigError("manipulation", "timed manipulations (*_window_min) need a protocol with a dosing clock, not bath")
