"""From a composed config to model objects, with one clear error per bad field.

Every check runs before any simulation; a failure raises ``ConfigError``, which
names the field (as a Hydra override path) and what is allowed. The command line prints
it as one line, without a traceback.

configs/ is the only home of the model's numbers: the dataclasses of ``circuits`` have no
defaults, and ``_build`` maps a config node's keys onto a dataclass's fields, each
checked by its spec (``Num``, ``Table``, ``Choice``), refusing a key that is
no field and a field without a key. The circuit's structure and drive gather values from
several nodes (and cross-checks between them) and are assembled by hand from those pieces.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ketamine_sim.circuits.compounds import SPECIES, Drug, parse_concentration_uM
from ketamine_sim.circuits.pharmacology import (
    FITS,
    KI_SPECIES,
    MAX_CONCENTRATION_UM,
    BlockConstants,
    BlockParameters,
    block_parameters,
)
from ketamine_sim.circuits.slow.neurochemistry import NeurochemistryParameters
from ketamine_sim.circuits.slow.pharmacokinetics import (
    BRAIN_PARTITIONS,
    DISPOSITION_OF,
    EXTRAVASCULAR,
    INTRAVASCULAR_BIOAVAILABILITY,
    ROUTES,
    DosingEvent,
    FirstPass,
    PKParameters,
    absorbed_routes,
    first_pass_route_check,
)
from ketamine_sim.circuits.slow.pk_variability import IIV_PARAMETERS, check_iiv
from ketamine_sim.circuits.slow.plasticity import BrainState, PlasticityParameters, PlasticitySettings
from ketamine_sim.circuits.spiking.background import BACKGROUND_DRAWS
from ketamine_sim.circuits.spiking.cells import POPULATIONS, CellParameters
from ketamine_sim.circuits.spiking.network import (
    CONNECTIVITY_RULES,
    SEED_MAX,
    BackgroundInput,
    CircuitDrive,
    CircuitStructure,
)
from ketamine_sim.circuits.spiking.receptors import SynapseParameters
from ketamine_sim.circuits.spiking.vesicles import VesicleParameters
from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.paths import BACKENDS, WAIT_POLICIES, cache_dir_problem, default_cache_dir

EXPERIMENTS = ("iv_infusion", "bath", "evoked_release", "dose_response", "course", "scorecard", "cohort", "sensitivity")


def _get(cfg, path: str) -> Any:
    node = cfg
    for part in path.split("."):
        try:
            node = node[int(part) if part.isdigit() else part]
        except (KeyError, TypeError, AttributeError):
            raise ConfigError(path, "missing") from None
    return node


def _number(
    cfg,
    path: str,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
    integer: bool = False,
    why: str = "",
) -> float:
    """The number at ``path``, checked against [minimum, maximum] (``strict``: minimum excluded);
    ``why`` names the source of the upper bound in the error."""
    value = _get(cfg, path)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(path, f"must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(path, f"must be finite, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ConfigError(path, f"must be {'>' if strict else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(path, f"must be <= {maximum:g}{f' ({why})' if why else ''}, got {value:g}")
    return value


def _choice(cfg, path: str, allowed) -> str:
    value = _get(cfg, path)
    if value not in allowed:
        raise ConfigError(path, f"unknown value {value!r}; allowed: {', '.join(map(str, allowed))}")
    return value


def _pathways(cfg, path: str, maximum: float | None = None, why: str = "") -> dict[tuple[str, str], float]:
    out = {}
    for key in _get(cfg, path):
        pre, _, post = str(key).partition("_")
        if pre not in POPULATIONS or post not in POPULATIONS:
            raise ConfigError(
                f"{path}.{key}", f"unknown pathway; use pre_post with populations {', '.join(POPULATIONS)}"
            )
        out[(pre, post)] = _number(cfg, f"{path}.{key}", minimum=0, maximum=maximum, why=why)
    return out


def _is_list(value) -> bool:
    return not isinstance(value, (str, bytes)) and hasattr(value, "__len__")


def _flag(cfg, path: str) -> bool:
    value = _get(cfg, path)
    if not isinstance(value, bool):
        raise ConfigError(path, f"must be true or false, got {value!r}")
    return value


# --------------------------------------------------------------------------- config -> dataclass
@dataclasses.dataclass(frozen=True)
class Num:
    """A number in [minimum, maximum] (``strict``: minimum excluded; ``why`` names the source of
    the maximum in the error); ``integer``: a whole number, returned as int."""

    minimum: float | None = None
    maximum: float | None = None
    strict: bool = False
    integer: bool = False
    why: str = ""

    def read(self, cfg, path: str):
        value = _number(cfg, path, self.minimum, self.maximum, self.strict, self.integer, self.why)
        return int(value) if self.integer else value


@dataclasses.dataclass(frozen=True)
class Table:
    """A mapping with exactly the keys ``keys`` (in the file's order), each value read by ``each``;
    ``drop_zero``: entries of value 0 are left out (a species absent from a preparation)."""

    keys: tuple[str, ...]
    each: Num
    drop_zero: bool = False

    def read(self, cfg, path: str) -> dict:
        node = _get(cfg, path)
        if not _is_mapping(node):
            raise ConfigError(path, f"must be a mapping of {', '.join(self.keys)}, got {node!r}")
        for key in node:
            if key not in self.keys:
                raise ConfigError(f"{path}.{key}", f"unknown key; allowed: {', '.join(self.keys)}")
        for key in self.keys:
            if key not in node:
                raise ConfigError(f"{path}.{key}", "missing")
        values = {str(key): self.each.read(cfg, f"{path}.{key}") for key in node}
        return {k: v for k, v in values.items() if v != 0} if self.drop_zero else values


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of ``allowed``."""

    allowed: tuple[str, ...]

    def read(self, cfg, path: str) -> str:
        return _choice(cfg, path, self.allowed)


def _is_mapping(node) -> bool:
    from omegaconf import OmegaConf

    return isinstance(node, dict) or OmegaConf.is_dict(node)


def _read_field(cfg, path: str, field: dataclasses.Field, spec) -> Any:
    if spec is not None:
        return spec.read(cfg, path)
    if field.type in ("bool", bool):
        return _flag(cfg, path)
    if field.type in ("str", str):
        value = _get(cfg, path)
        if not isinstance(value, str):
            raise ConfigError(path, f"must be a string, got {value!r}")
        return value
    raise TypeError(f"no range given for {path} ({field.type})")  # a gap in the builder's specs, not a user error


def _build(cls, cfg, path: str, specs: dict, given: dict | None = None, skip: tuple[str, ...] = ()):
    """The dataclass ``cls`` from the config node at ``path``, one field per key.

    Each field is read from ``path.<field>`` and checked by its spec in ``specs`` (``Num``,
    ``Table``, ``Choice``; a bool field needs none: true or false, a str field none: a
    string); ``given`` supplies fields that live elsewhere in the config, ``skip`` names keys of
    the node that other objects read. A key that is no field of ``cls``, a field without a key
    (the dataclasses have no defaults: configs/ holds every value) and a value that the
    dataclass's own checks refuse are each a one-line ``ConfigError`` naming the override path.
    """
    node = _get(cfg, path)
    if not _is_mapping(node):
        raise ConfigError(path, f"must be a mapping, got {node!r}")
    given = dict(given or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in node:
        if key not in fields and key not in skip:
            raise ConfigError(f"{path}.{key}", f"unknown key: nothing reads it ({cls.__name__} has no such field)")
    values = {}
    for name, field in fields.items():
        if name in given:
            values[name] = given[name]
        elif name not in node:
            raise ConfigError(f"{path}.{name}", "missing: every value of the model is set in configs/")
        else:
            values[name] = _read_field(cfg, f"{path}.{name}", field, specs.get(name))
    try:
        return cls(**values)
    except ValueError as error:
        raise ConfigError(path, str(error)) from None


# --------------------------------------------------------------------------- bounds
# Upper bounds of numeric keys: beyond them a value is not a meaningful input of this model,
# or the run would not fit in memory and time. Each is a free choice, a decade or more past
# any published value, and each error names it.
MAX_PATIENTS = 100_000  #: patients of a cohort (each a course run)
MAX_SPREAD = 2.0  #: a cohort's spread of a state or plasticity constant (CV)
MAX_SENSITIVITY_RUNS = 100_000  #: runs of a sensitivity analysis (each a course run)
MAX_NEURONS = 200_000  #: cells per population (memory; pfc has 3200 pyramidal cells)
MAX_SYNAPSES = 100_000_000  #: expected synapses of a circuit (memory: about 90 B each, benchmarks/bench_scale.py; pfc has about 3.5e6)
MAX_WEIGHT_NS = 50.0  #: conductance step per spike (unitary cortical conductances are below ~10 nS)
MAX_G_NMDA_NS = 1000.0  #: NMDA conductance of a fully bound cell (pfc: 30 nS)
MAX_POTENTIAL_MV = 150.0  #: |membrane and reversal potentials| (physiological range -100 to +60 mV)
MAX_MG_MM = 10.0  #: extracellular Mg (CSF about 1 mM, slice solutions 0-4 mM)
MAX_SYNAPTIC_TAU_MS = 100_000.0  #: synaptic, membrane and vesicle time constants, ms
MAX_DELAY_MS = 100.0  #: synaptic delay (local circuit: about 0.5-5 ms)
MAX_DT_MS = 1.0  #: integration step (the fastest synaptic time constant is 2 ms)
MAX_STEPS_PER_WINDOW = 100_000_000  #: window_s / dt_ms (time: the binary runs every step of every window)
MAX_RATE_HZ = 1000.0  #: rate of one background input (cortical neurons fire below ~500 Hz)
MAX_SOURCES = 100_000  #: background inputs per cell (a cortical neuron receives about 10^4 synapses)
MAX_SCALE = 100.0  #: dimensionless ratios, gains and thresholds
MAX_NEUROCHEMISTRY_TAU_MIN = 1440.0  #: glutamate and adenosine time constants (a day)
MAX_PLASTICITY_TAU_H = 8760.0  #: plasticity time constants (a year)
MAX_ELIMINATION_PER_DAY = 1.0  #: spine elimination per spine per day (observed: 1-5% per day, Holtmaat 2005)
MAX_DOSE_MG_PER_KG = 100.0  #: above rodent anaesthetic doses (80-100 mg/kg i.p.); human anaesthesia is 1-4.5 mg/kg IV
_DOSE_WHY = "above rodent anaesthetic doses"
MAX_BODY_WEIGHT_KG = 500.0
MAX_INFUSION_MIN = 1440.0  #: an infusion of at most a day
MAX_CLOCK_MIN = 10_080.0  #: |dosing.start_min|: the first dose within a week of protocol time 0
MAX_PROTOCOL_MIN = 527_040.0  #: a protocol of at most a year (366 days)
MAX_TIMELINE_POINTS = 200_000  #: points of the slow timeline (memory and time of the slow layer)
MAX_TIMELINE_STEP_S = 86_400.0  #: step of the slow timeline (a day)
MAX_WINDOWS = 1000  #: spiking windows per protocol (time: each window runs the network)
MAX_TRAIN_PULSES = 1000
MAX_TRAIN_HZ = 1000.0  #: a 1 ms interval between test pulses
MAX_DOSES = 100  #: doses of one dose-response experiment (time: each runs the whole protocol)
MAX_THREADS = 256
MAX_JOBS = 256  #: parallel processes (scorecard.n_jobs, hydra.launcher.n_jobs)


# --------------------------------------------------------------------------- known keys
def _config_dir():
    """The configs/ tree: every key a run may hold is declared in one of its files."""
    from pathlib import Path

    from ketamine_sim.experiments.paths import CONFIG_DIR

    return Path(CONFIG_DIR)


#: Keys that may be added beyond the files (``+circuit.weight_nS.sst_sst=0.2``): any pathway.
_PATHWAY_NODES = ("circuit.weight_nS", "circuit.connection_probability")
#: Keys whose files hold only null but which take a value of a kind (a list of record ids, a span).
_EXTRA_KINDS = {
    "scorecard.records": {"list"},
    "scorecard.seeds_dir": {"str"},
    "iv_infusion.back_to_back_min": {"list"},
}


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    return "list" if isinstance(value, list) else "dict"


def _leaves(tree: dict, prefix: str, out: dict[str, set[str]], nodes: set[str]) -> None:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            nodes.add(path)
            _leaves(value, f"{path}.", out, nodes)
        else:
            out.setdefault(path, set()).add(_kind(value))


def _read_config_file(path) -> tuple[dict, list]:
    import yaml

    text = path.read_text()
    data = yaml.safe_load(text) or {}
    defaults = data.pop("defaults", []) or []
    if path.parent != _config_dir() and "@package _global_" not in text.split("\n\n")[0]:
        data = {path.parent.name: data}
    data.pop("hydra", None)
    return data, defaults


@functools.cache
def declared_keys(experiment: str) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """The keys a run of ``experiment`` may hold: every leaf (dotted path -> the kinds of value
    the files give it: bool, number, str, list, null) and every mapping node, from
    configs/config.yaml, every option of every group and the experiment's own file (with the
    files it builds on)."""
    leaves: dict[str, set[str]] = {}
    nodes: set[str] = set()
    root = _config_dir()
    files = [root / "config.yaml"]
    files += [f for f in sorted(root.glob("*/*.yaml")) if f.parent.name not in ("experiment", "hydra")]
    todo = [experiment]
    while todo:  # the experiment's file and the experiment files in its defaults
        name = todo.pop()
        path = root / "experiment" / f"{name}.yaml"
        files.append(path)
        todo += [d for d in _read_config_file(path)[1] if isinstance(d, str) and d != "_self_"]
    for path in files:
        _leaves(_read_config_file(path)[0], "", leaves, nodes)
    for key, kinds in _EXTRA_KINDS.items():
        if key in leaves:
            leaves[key] |= kinds
    return {k: frozenset(v) for k, v in leaves.items()}, frozenset(nodes)


def _experiment_of_key(path: str) -> str | None:
    """The experiment (other than the run's) whose file declares ``path``, if any."""
    for name in EXPERIMENTS:
        leaves, nodes = declared_keys(name)
        if path in leaves or path in nodes:
            return name
    return None


def unknown_key(path: str, experiment: str) -> ConfigError:
    """The error for a key that no file of ``experiment``'s configs declares: the experiment it
    belongs to, or the nearest declared key."""
    having = _options_declaring(path)
    if having:  # declared by another option of its group (pk.iiv.* of pk=perez_ruixo2021)
        return ConfigError(path, f"not a key of the chosen options; the options that have it: {', '.join(having)}")
    owner = _experiment_of_key(path)
    if owner is not None:
        return ConfigError(path, f"belongs to experiment={owner}; nothing reads it in experiment={experiment}")
    for name in (experiment, *EXPERIMENTS):
        leaves, nodes = declared_keys(name)
        near = difflib.get_close_matches(path, sorted(set(leaves) | nodes), n=1, cutoff=0.75)
        if near:
            where = "" if name == experiment else f" (a key of experiment={name})"
            return ConfigError(path, f"unknown key (nothing reads it); did you mean {near[0]}{where}?")
    return ConfigError(path, "unknown key (nothing reads it); docs/configuration.md lists the keys")


def _options_declaring(path: str) -> list[str]:
    """``group=option`` of every group option whose file declares the key ``path``."""
    found = []
    for file in sorted(_config_dir().glob("*/*.yaml")):
        if file.parent.name in ("experiment", "hydra"):
            continue
        leaves: dict[str, set[str]] = {}
        nodes: set[str] = set()
        _leaves(_read_config_file(file)[0], "", leaves, nodes)
        if path in leaves or path in nodes:
            found.append(f"{file.parent.name}={file.stem}")
    return found


def _pathway_key(path: str) -> bool:
    node, _, key = path.rpartition(".")
    pre, _, post = key.partition("_")
    return node in _PATHWAY_NODES and pre in POPULATIONS and post in POPULATIONS


def check_keys(cfg, experiment: str) -> None:
    """Refuse keys that nothing reads (misspelt or added with ``+``), naming the nearest known
    key, and values of the wrong kind: a boolean key takes only true/false, a list key a list,
    a mapping a mapping."""
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else cfg
    leaves, nodes = declared_keys(experiment)

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if path in nodes and value is None and "null" in leaves.get(path, ()):
                continue  # an optional block (pk.first_pass): null in some options, a mapping in others
            if path in nodes:
                if not isinstance(value, dict):
                    keys = sorted(k.rpartition(".")[2] for k in set(leaves) | nodes if k.rpartition(".")[0] == path)
                    raise ConfigError(path, f"must be a mapping (keys {', '.join(keys)}), got {value!r}")
                walk(value, f"{path}.")
            elif path in leaves:
                _check_kind(path, _resolved(cfg, path, value), leaves[path])
            elif _pathway_key(path):
                _check_kind(path, _resolved(cfg, path, value), frozenset({"number"}))
            else:
                while isinstance(value, dict) and len(value) == 1:  # name the key that was added: +a.b.c=1
                    key, value = next(iter(value.items()))
                    path = f"{path}.{key}"
                raise unknown_key(path, experiment)

    walk(tree, "")
    present = set(_flat_keys(tree))
    absent_blocks = tuple(f"{path}." for path in present if path in nodes and _get(cfg, path) is None)
    for path in sorted(leaves):
        given_block = path in nodes and any(k.startswith(f"{path}.") for k in present)  # null elsewhere
        if path not in present and not given_block and not path.startswith(absent_blocks):
            raise ConfigError(
                path,
                "missing: every key of the configs is needed (a key cannot be deleted with ~, nor a block given in part)",
            )


def _flat_keys(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flat_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


#: The backend keys a scorecard passes on to its runs (``ketamine_sim.experiments.scoring.scorecard``).
SCORECARD_BACKEND_KEYS = (
    "backend.threads",
    "backend.cache_dir",
    "backend.direct",
    "backend.wait_policy",
    "backend.vectorise",
    "backend.background_draw",
)
#: Why a scorecard takes no backend group (on its command line or in its extra overrides).
SCORECARD_BACKEND_GROUP = (
    "a scorecard runs every run with the compiled circuit (backend=cpp_standalone); the runtime "
    f"backends (cython, numpy) are not offered for it. Its runs take {', '.join(SCORECARD_BACKEND_KEYS)} "
    "from its command line"
)
#: What an experiment reads of the config: ``experiment=scorecard`` passes only the circuit's
#: name, `SCORECARD_BACKEND_KEYS` and output.figure on to its runs (which compose their own
#: configs); bath and evoked_release have no pharmacokinetics; dose_response sets the dose of
#: each run itself. An override of anything else is a key nothing reads.
READ_ONLY = {"scorecard": ("circuit.name", *SCORECARD_BACKEND_KEYS, "output.figure", "scorecard", "experiment.name")}
UNREAD = {
    "bath": ("dosing", "pk"),
    "evoked_release": ("dosing", "pk"),
    "dose_response": ("dosing.dose_mg_per_kg",),
    "cohort": ("seed",),  # every patient draws its own (cohort.seed draws the patients)
}


def unread_override(key: str, experiment: str) -> ConfigError | None:
    """The error for an override of ``key`` (a group or a dotted key) that ``experiment``
    never reads, or None."""

    def under(prefixes) -> bool:
        return any(key == p or key.startswith(f"{p}.") for p in prefixes)

    if key.startswith(("hydra.", "hydra/")) or key == "hydra":
        return None
    if key == "experiment.name":  # the name alone would leave the other experiment's block behind
        return ConfigError(key, "choose the experiment with the group, experiment=<name>, which brings its keys")
    if key in ("drug.name", "pk.name"):  # the name alone would relabel the chosen option's numbers
        group = key.partition(".")[0]
        return ConfigError(
            key,
            f"choose the {'preparation' if group == 'drug' else 'model'} with the group, {group}=<name> "
            f"(allowed: {', '.join(_options(group))}), which brings its "
            f"{'composition' if group == 'drug' else 'rates'}",
        )
    if experiment in READ_ONLY and key == "backend":
        return ConfigError(key, SCORECARD_BACKEND_GROUP)
    if experiment in READ_ONLY and key not in ("circuit", "experiment") and not under(READ_ONLY[experiment]):
        return ConfigError(
            key,
            f"experiment={experiment} passes only the circuit option, "
            f"{', '.join(READ_ONLY[experiment][:-2])} on to its runs; give other settings in "
            f"scorecard.extra_overrides",
        )
    if under(UNREAD.get(experiment, ())):
        what = {
            "dose_response": "the doses are dose_response.doses_mg_per_kg",
            "cohort": "every patient draws its own circuit seed (cohort.seed draws the patients)",
        }.get(experiment, "it has no pharmacokinetics (no dosing or pk)")
        return ConfigError(key, f"nothing reads it in experiment={experiment}: {what}")
    return None


def _resolved(cfg, path: str, value):
    """``value`` with its interpolations (``${...}``) resolved; one that cannot be is a ConfigError."""
    if not (isinstance(value, str) and "${" in value) and not (isinstance(value, list) and "${" in str(value)):
        return value
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        resolved = OmegaConf.select(cfg, path, throw_on_missing=True)
        return OmegaConf.to_container(resolved, resolve=True) if OmegaConf.is_config(resolved) else resolved
    except (OmegaConfBaseException, ValueError, KeyError, TypeError) as error:
        raise ConfigError(path, f"cannot resolve {value!r}: {str(error).splitlines()[0]}") from None


def _choice_keys() -> dict[str, tuple[str, ...]]:
    """Keys whose value is one of a fixed list of names, and that list (named in the message
    for a value of the wrong type, as `_choice` names it for an unknown name)."""
    return {
        "backend.name": BACKENDS,
        "backend.wait_policy": WAIT_POLICIES,
        "backend.background_draw": BACKGROUND_DRAWS,
        "circuit.connectivity": CONNECTIVITY_RULES,
        "block.fit": FITS,
        "dosing.route": ROUTES,
        "sensitivity.method": SENSITIVITY_METHODS,
    }


def _check_kind(path: str, value, kinds: frozenset[str]) -> None:
    kind = _kind(value)
    if kind in kinds or (kind == "null" and "null" in kinds):
        return
    if "bool" in kinds:
        raise ConfigError(path, f"must be true or false, got {value!r}")
    if "list" in kinds:
        raise ConfigError(path, f"must be a list{' or null' if 'null' in kinds else ''}, got {value!r}")
    if kind in ("list", "dict"):
        raise ConfigError(
            path, f"must be a single value, not a {'list' if kind == 'list' else 'mapping'}, got {value!r}"
        )
    if kinds <= {"str", "null"} and "str" in kinds:  # names and folders
        allowed = _choice_keys().get(path)
        if allowed:
            raise ConfigError(path, f"unknown value {value!r}; allowed: {', '.join(allowed)}")
        raise ConfigError(path, f"must be a string{' or null' if 'null' in kinds else ''}, got {value!r}")


def _per_population(cfg, path: str, **limits) -> dict[str, float]:
    """One number per population (``pyr``, ``pv``, ``sst``), each within ``limits`` (as ``Num``)."""
    return Table(POPULATIONS, Num(**limits)).read(cfg, path)


#: A name that becomes part of a path: letters, digits, '_', '-', '.'; not starting with '.' or '-'.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def _path_name(cfg, path: str) -> str:
    value = _get(cfg, path)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigError(
            path,
            "must be a plain name of 1-64 letters, digits, '_', '-' or '.', starting with a "
            f"letter, digit or '_' (it names the build folder), got {value!r}",
        )
    return value


def seed(cfg, path: str = "seed") -> int:
    """A run seed: an integer in [0, 2**32 - 1] (``ketamine_sim.circuits.spiking.network.SEED_MAX``)."""
    value = int(_number(cfg, path, integer=True))
    if not 0 <= value <= SEED_MAX:
        raise ConfigError(path, f"must be an integer in [0, {SEED_MAX}] (2**32 - 1), got {value}")
    return value


def engine_options(cfg) -> dict:
    """How windows run: ``backend.name``, ``backend.direct`` (run the compiled binary from its
    call file, without Brian2's code generation) and ``backend.wait_policy`` (OpenMP's
    ``OMP_WAIT_POLICY`` for the binary), as keyword arguments of
    ``ketamine_sim.experiments.simulation.engine.make_engine``."""
    return {
        "backend": _choice(cfg, "backend.name", BACKENDS),
        "direct": _flag(cfg, "backend.direct"),
        "wait_policy": _choice(cfg, "backend.wait_policy", WAIT_POLICIES),
    }


def cache_dir(cfg) -> Path | None:
    """``backend.cache_dir``: null (``$KETAMINE_SIM_CACHE`` or ``~/.cache/ketamine-sim``) or
    a folder path that exists or can be created."""
    path = "backend.cache_dir"
    value = _get(cfg, path)
    if value is None:
        problem = cache_dir_problem(default_cache_dir()) if _get(cfg, "backend.name") == "cpp_standalone" else None
        if problem:
            raise ConfigError(
                path,
                f"the default build cache ($KETAMINE_SIM_CACHE or ~/.cache/ketamine-sim): "
                f"{problem}; choose a folder with backend.cache_dir=PATH",
            )
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            path, f"must be null or a folder path (quote a number: backend.cache_dir=\"'123'\"), got {value!r}"
        )
    problem = cache_dir_problem(Path(value))
    if problem:
        raise ConfigError(path, f"{problem}; choose a folder that exists or can be created")
    return Path(value).expanduser()


def circuit_structure(cfg) -> CircuitStructure:
    """The compiled structure of the circuit (``circuit.*``, ``block.*``, ``backend.threads``,
    ``backend.vectorise``)."""
    c = "circuit"
    dt_ms = _dt_ms(cfg)
    cells = _cells(cfg, dt_ms)
    synapses = _synapses(cfg, dt_ms)
    _check_size(cfg)
    window_s = _number(
        cfg,
        f"{c}.window_s",
        minimum=0,
        strict=True,
        maximum=MAX_STEPS_PER_WINDOW * dt_ms * 1e-3,
        why=f"{MAX_STEPS_PER_WINDOW:.0e} steps of circuit.dt_ms per window",
    )
    transient_s = _number(cfg, f"{c}.transient_s", minimum=0, maximum=window_s * 0.9)
    connectivity = _choice(cfg, f"{c}.connectivity", CONNECTIVITY_RULES)
    try:
        return _structure(cfg, c, dt_ms, cells, synapses, window_s, transient_s, connectivity)
    except ValueError as error:
        if connectivity == "fixed_indegree" and "fixed_indegree" in str(error):
            raise ConfigError(f"{c}.connectivity", f"{error}; lower the probability or use fixed_probability") from None
        raise


def _structure(cfg, c, dt_ms, cells, synapses, window_s, transient_s, connectivity) -> CircuitStructure:
    return CircuitStructure(
        name=_path_name(cfg, f"{c}.name"),
        counts=_counts(cfg, f"{c}.counts"),
        reference_counts=_counts(cfg, f"{c}.reference_counts"),
        connection_probability=_pathways(cfg, f"{c}.connection_probability", maximum=1),
        cells=cells,
        synapses=synapses,
        g_nmda_max_nS=_per_population(
            cfg, f"{c}.g_nmda_max_nS", minimum=0, strict=True, maximum=MAX_G_NMDA_NS, why="pfc uses 30 nS"
        ),
        background=_background(cfg, dt_ms),
        block=block(cfg),
        dt_ms=dt_ms,
        window_s=window_s,
        transient_s=transient_s,
        threads=int(_number(cfg, "backend.threads", minimum=1, maximum=MAX_THREADS, integer=True)),
        vectorise=_flag(cfg, "backend.vectorise"),
        spine_occupancy=_spine_occupancy(cfg),
        connectivity=connectivity,
    )


_POTENTIAL = Num(minimum=-MAX_POTENTIAL_MV, maximum=MAX_POTENTIAL_MV, why="physiological potentials")
#: Range of each cell constant.
_CELL_SPECS = {
    "c_m_nF": Num(minimum=0, strict=True, maximum=10.0, why="a large pyramidal cell has about 0.5 nF"),
    "g_l_nS": Num(minimum=0, strict=True, maximum=1000.0, why="input resistances above 1 MOhm"),
    "e_l_mV": _POTENTIAL,
    "v_th_mV": _POTENTIAL,
    "v_reset_mV": _POTENTIAL,
    "t_ref_ms": Num(minimum=0, strict=True, maximum=100.0, why="refractory periods are 1-5 ms"),
}
#: Range of each synaptic constant; time constants also >= circuit.dt_ms.
_SYNAPSE_SPECS = {
    "e_exc_mV": _POTENTIAL,
    "e_inh_mV": _POTENTIAL,
    "alpha_nmda_per_ms": Num(minimum=0, strict=True, maximum=100.0, why="Wang 2002: 0.5 /ms"),
    "mg_mM": Num(minimum=0, maximum=MAX_MG_MM, why="CSF about 1 mM, slice solutions 0-4 mM"),
    "delay_ms": Num(minimum=0, strict=True, maximum=MAX_DELAY_MS, why="local delays are 0.5-5 ms"),
    **{
        name: Num(minimum=0, strict=True, maximum=MAX_SYNAPTIC_TAU_MS, why="100 s")
        for name in ("tau_ampa_ms", "tau_nmda_rise_ms", "tau_nmda_decay_ms", "tau_gaba_pv_ms", "tau_gaba_sst_ms")
    },
}


def _dt_ms(cfg) -> float:
    return _number(
        cfg,
        "circuit.dt_ms",
        minimum=0,
        strict=True,
        maximum=MAX_DT_MS,
        why="the fastest synaptic time constant is 2 ms",
    )


def _cells(cfg, dt_ms: float) -> dict[str, CellParameters]:
    cells = {}
    for pop in POPULATIONS:
        path = f"circuit.cells.{pop}"
        cells[pop] = _build(CellParameters, cfg, path, _CELL_SPECS)
        if cells[pop].e_l_mV >= cells[pop].v_th_mV:  # a cell at rest above its threshold fires without input
            raise ConfigError(
                f"{path}.e_l_mV",
                f"the resting potential must be below v_th_mV ({cells[pop].v_th_mV:g}), got {cells[pop].e_l_mV:g}",
            )
        e_exc = _number(cfg, "circuit.synapses.e_exc_mV")
        if cells[pop].v_th_mV >= e_exc:  # excitation drives v towards e_exc at most: the cell could never fire
            raise ConfigError(
                f"{path}.v_th_mV", f"must be below circuit.synapses.e_exc_mV ({e_exc:g}), got {cells[pop].v_th_mV:g}"
            )
        if cells[pop].tau_m_ms < dt_ms:  # the Euler step must resolve the membrane time constant
            raise ConfigError(
                f"{path}.c_m_nF",
                f"the membrane time constant c_m_nF / g_l_nS ({cells[pop].tau_m_ms:g} ms) "
                f"must be >= circuit.dt_ms ({dt_ms})",
            )
    return cells


def _synapses(cfg, dt_ms: float) -> SynapseParameters:
    path = "circuit.synapses"
    synapses = _build(SynapseParameters, cfg, path, _SYNAPSE_SPECS)
    for name, value in dataclasses.asdict(synapses).items():
        if name.startswith("tau") and value < dt_ms:  # the Euler step must resolve every time constant
            raise ConfigError(f"{path}.{name}", f"must be >= circuit.dt_ms ({dt_ms}), got {value}")
    if synapses.alpha_nmda_per_ms * dt_ms > 1:  # the bound fraction may grow by at most 1 per step
        raise ConfigError(
            f"{path}.alpha_nmda_per_ms",
            f"alpha_nmda_per_ms x circuit.dt_ms must be <= 1 "
            f"(a fraction per step), got {synapses.alpha_nmda_per_ms * dt_ms:g}",
        )
    if synapses.delay_ms < dt_ms:
        # synapses read the presynaptic release of the spike, which is set at its reset (same step)
        raise ConfigError(f"{path}.delay_ms", f"must be >= circuit.dt_ms ({dt_ms}), got {synapses.delay_ms}")
    return synapses


def _background(cfg, dt_ms: float) -> BackgroundInput:
    path = "circuit.background"
    sources = Num(minimum=0, maximum=MAX_SOURCES, integer=True, why="a cortical neuron receives about 10^4 synapses")
    background = _build(
        BackgroundInput,
        cfg,
        path,
        {"n_sources": sources, "rate_hz": Num(minimum=0)},
        given={"draw": _background_draw(cfg)},
        skip=("weight_nS",),
    )
    rate = background.rate_hz
    if rate * dt_ms * 1e-3 > 1:  # each source fires at most once per step (a probability per step)
        raise ConfigError(
            f"{path}.rate_hz",
            f"rate_hz x circuit.dt_ms is the probability that a source fires in a step "
            f"and must be <= 1, got {rate * dt_ms * 1e-3:g}",
        )
    _number(cfg, f"{path}.rate_hz", maximum=MAX_RATE_HZ, why="cortical neurons fire below ~500 Hz")
    return background


def _background_draw(cfg) -> str:
    """``backend.background_draw``: one of `BACKGROUND_DRAWS`; ``per_population`` is C++ code of
    the compiled circuit (``backend=cpp_standalone``)."""
    path = "backend.background_draw"
    draw = _choice(cfg, path, BACKGROUND_DRAWS)
    if draw == "per_population" and _get(cfg, "backend.name") != "cpp_standalone":
        backend = _get(cfg, "backend.name")
        raise ConfigError(path, f"per_population needs backend=cpp_standalone (got backend={backend}); use per_cell")
    return draw


def _counts(cfg, path: str) -> dict[str, int]:
    return _per_population(cfg, path, minimum=1, maximum=MAX_NEURONS, integer=True, why="memory")


def _check_size(cfg) -> None:
    """Cell counts within ``MAX_NEURONS`` and a circuit of at most ``MAX_SYNAPSES``."""
    counts = _counts(cfg, "circuit.counts")
    _counts(cfg, "circuit.reference_counts")
    probability = _pathways(cfg, "circuit.connection_probability", maximum=1)
    occupancy = _spine_occupancy(cfg)
    reference = _counts(cfg, "circuit.reference_counts")
    # fixed_indegree: each post cell gets p x reference count inputs, else p x actual count
    presynaptic = reference if _get(cfg, "circuit.connectivity") == "fixed_indegree" else counts
    expected = sum(
        p * presynaptic[pre] * counts[post] / (occupancy if (pre, post) == ("pyr", "pyr") else 1.0)
        for (pre, post), p in probability.items()
    )
    if expected > MAX_SYNAPSES:
        raise ConfigError(
            "circuit.counts",
            f"the circuit would hold about {expected:.3g} synapses; at most "
            f"{MAX_SYNAPSES:.0e} fit in memory (fewer cells or lower connection_probability)",
        )


def _spine_occupancy(cfg) -> float:
    path = "circuit.spine_sites.occupancy"
    value = _number(cfg, path, minimum=0, maximum=1, strict=True)
    p_ee = float(_get(cfg, "circuit.connection_probability.pyr_pyr"))
    if value < p_ee:
        raise ConfigError(
            path,
            f"must be >= circuit.connection_probability.pyr_pyr ({p_ee}): sites are compiled "
            f"with probability p / occupancy, got {value}",
        )
    return value


def brain_state(cfg) -> BrainState:
    """The brain state of the run (``state.*``)."""
    scale = Num(minimum=0, strict=True, maximum=MAX_SCALE, why="relative to healthy")
    return _build(BrainState, cfg, "state", {k: scale for k in ("bdnf_tone", "elimination_scale", "ee_weight_scale")})


_GAIN = Num(minimum=0, maximum=MAX_SCALE, why="a dimensionless gain")
_TAU_H = Num(minimum=0, strict=True, maximum=MAX_PLASTICITY_TAU_H, why="a year")
#: Range of each constant of the plasticity chain.
_PLASTICITY_SPECS = {
    **{
        name: _GAIN
        for name in ("activity_threshold", "bdnf_gain", "protein_gain", "formation_gain", "glun2b_rest_gain")
    },
    **{name: _TAU_H for name in ("bdnf_tau_h", "mtor_tau_h", "protein_tau_h", "setpoint_tau_h")},
    "elimination_per_day": Num(
        minimum=0, strict=True, maximum=MAX_ELIMINATION_PER_DAY, why="observed: 1-5% of spines per day"
    ),
}


def plasticity(cfg, structure: CircuitStructure | None = None):
    """The plasticity settings (parameters, brain state, switches) of the run; the healthy
    occupancy of the spine sites is the circuit's (``circuit.spine_sites.occupancy``)."""
    occupancy = (structure or circuit_structure(cfg)).spine_occupancy
    params = _build(
        PlasticityParameters, cfg, "plasticity", _PLASTICITY_SPECS, given={"occupancy": occupancy}, skip=("enabled",)
    )
    return PlasticitySettings(
        params=params,
        state=brain_state(cfg),
        enabled=_flag(cfg, "plasticity.enabled"),
        formation_blocked=_flag(cfg, "manipulation.spine_formation_block"),
    )


def manipulation_window(cfg, name: str) -> tuple[float, float] | None:
    """``manipulation.<name>_window_min``: null (the whole protocol) or [from, to] in minutes
    on the dosing clock (0 = start of the first dose, see ``dose_starts_min``)."""
    return _span_min(cfg, f"manipulation.{name}_window_min")


def _span_min(cfg, path: str) -> tuple[float, float] | None:
    """A span key: null, or ``[from_min, to_min]`` with ``to_min`` after ``from_min``."""
    value = _get(cfg, path)
    if value is None:
        return None
    if not _is_list(value) or len(value) != 2:
        raise ConfigError(path, f"must be null or [from_min, to_min], got {value!r}")
    start, stop = _number(cfg, f"{path}.0"), _number(cfg, f"{path}.1")
    if stop <= start:
        raise ConfigError(path, f"must end after it starts, got [{start}, {stop}]")
    return start, stop


#: The manipulations that may be timed: ``manipulation.<name>_window_min``.
TIMED_MANIPULATIONS = ("ampa_block", "mtor_block")


def _check_manipulation_windows(cfg, start_min: float, end_min: float) -> None:
    """Every timed manipulation must overlap the protocol [start_min, end_min] (min on the
    dosing clock); one that lies wholly outside it would silently do nothing."""
    for name in TIMED_MANIPULATIONS:
        window = manipulation_window(cfg, name)
        if window is not None and (window[1] <= start_min or window[0] >= end_min):
            raise ConfigError(
                f"manipulation.{name}_window_min",
                f"[{window[0]:g}, {window[1]:g}] lies outside the protocol ([{start_min:g}, "
                f"{end_min:g}] min on the dosing clock, 0 = start of the first dose)",
            )


#: Range of each constant of the vesicle pool.
_VESICLE_SPECS = {
    "u_release": Num(minimum=0, maximum=1, strict=True),
    "tau_rec_ms": Num(minimum=0, strict=True, maximum=MAX_SYNAPTIC_TAU_MS, why="100 s"),
    "recycling_slowing": Num(minimum=0, maximum=MAX_SCALE, why="a relative growth"),
    "initial_rate_hz": Num(minimum=0, maximum=MAX_RATE_HZ, why="cortical neurons fire below ~500 Hz"),
}


def vesicles(cfg) -> VesicleParameters:
    """The pyramidal cells' vesicle pool (``circuit.vesicles.*``)."""
    return _build(VesicleParameters, cfg, "circuit.vesicles", _VESICLE_SPECS)


_WEIGHT_WHY = "unitary cortical conductances are below ~10 nS"


def _weights(cfg) -> dict[tuple[str, str], float]:
    weights = _pathways(cfg, "circuit.weight_nS", maximum=MAX_WEIGHT_NS, why=_WEIGHT_WHY)
    for (pre, post), p in _pathways(cfg, "circuit.connection_probability").items():
        if p > 0 and (pre, post) not in weights:
            raise ConfigError(
                f"circuit.weight_nS.{pre}_{post}", f"missing: the pathway has connection probability {p:g}"
            )
    return weights


def circuit_drive(cfg) -> CircuitDrive:
    """The per-window drive of the circuit (weights, NMDA ratios, vesicles, drug targets, AMPA scale)."""
    return CircuitDrive(
        weight_nS=_weights(cfg),
        nmda_ratio=_per_population(
            cfg, "circuit.nmda_ratio", minimum=0, maximum=MAX_SCALE, why="NMDA/AMPA ratios are 0.1-3"
        ),
        background_weight_nS=_per_population(
            cfg, "circuit.background.weight_nS", minimum=0, maximum=MAX_WEIGHT_NS, why=_WEIGHT_WHY
        ),
        vesicles=vesicles(cfg),
        drug_targets=drug_targets(cfg),
        hnk_ampa_gain=_number(cfg, "hnk_ampa.gain", minimum=0, maximum=MAX_SCALE, why="a relative rise"),
        hnk_ampa_ec50_uM=_number(
            cfg,
            "hnk_ampa.ec50_uM",
            minimum=0,
            strict=True,
            maximum=MAX_CONCENTRATION_UM,
            why="1 mM, the model's concentration range",
        ),
        # with a time window, the protocol's schedule applies the block (manipulation_schedule)
        ampa_available=1.0
        - (
            _number(cfg, "manipulation.ampa_block_fraction", minimum=0, maximum=1)
            if manipulation_window(cfg, "ampa_block") is None
            else 0.0
        ),
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
    _distinct(path, list(values))
    return tuple(str(v) for v in values)


def _distinct(path: str, values: list, key=lambda v: v) -> None:
    """Refuse a list whose values repeat (as ``key`` names them: a folder name, a label)."""
    seen: dict = {}
    for value in values:
        name = key(value)
        if name in seen:
            raise ConfigError(
                path,
                f"values must be distinct, got {seen[name]!r} and {value!r} (both {name!r})"
                if seen[name] != value
                else f"values must be distinct, got {value!r} twice",
            )
        seen[name] = value


_TAU_MIN = Num(minimum=0, strict=True, maximum=MAX_NEUROCHEMISTRY_TAU_MIN, why="a day")
_CONSTANT = Num(minimum=0, strict=True, maximum=MAX_SCALE, why="a dimensionless constant")
#: Range of each constant of the glutamate pool and the adenosine feedback.
_NEUROCHEMISTRY_SPECS = {
    "glutamate_tau_min": _TAU_MIN,
    "adenosine_tau_min": _TAU_MIN,
    "adenosine_gain": Num(minimum=0, maximum=MAX_SCALE, why="a dimensionless constant"),
    "a1_max_inhibition": Num(minimum=0, maximum=0.99),
    "a1_half_effect": _CONSTANT,
    "a1_hill": _CONSTANT,
}


def neurochemistry(cfg) -> NeurochemistryParameters:
    """Glutamate and adenosine constants and switches (``neurochemistry.*``)."""
    return _build(NeurochemistryParameters, cfg, "neurochemistry", _NEUROCHEMISTRY_SPECS)


def manipulation_schedule(cfg, clock_s) -> tuple[np.ndarray | None, np.ndarray | None]:
    """At times on the dosing clock (``clock_s``, s from the start of the first dose, as
    ``time_from_dose_s``): the AMPA availability (None when NBQX is absent or present
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


def _options(group: str) -> tuple[str, ...]:
    """The options of a config group: the files of configs/<group>/."""
    return tuple(sorted(p.stem for p in (_config_dir() / group).glob("*.yaml")))


def drug(cfg) -> Drug:
    """The dosed preparation (``drug.name``, one of the drug group's options, and
    ``drug.composition``: the mass fraction of each species)."""
    composition = Table(SPECIES, Num(minimum=0, maximum=1), drop_zero=True)
    return _build(Drug, cfg, "drug", {"name": Choice(_options("drug")), "composition": composition})


_PK_RATE = Num(minimum=0, maximum=1000.0, why="a time constant of 60 ms")
_PK_VOLUME = Num(minimum=0.01, maximum=100.0, why="L/kg: plasma is about 0.04 L/kg, total body water about 0.6 L/kg")
_FRACTION = Num(minimum=0, maximum=1)
_HALF_LIFE_MIN = Num(minimum=0, strict=True, maximum=MAX_PROTOCOL_MIN, why="a year")
_RELEASE_MIN = Num(minimum=0, strict=True, maximum=1440.0, why="a day")
#: Range of each pharmacokinetic constant (``pk.*``: the model's file and the shared root values).
_PK_SPECS = {
    "v1_l_per_kg": _PK_VOLUME,
    **{f"k{ij}_per_min": _PK_RATE for ij in ("10", "12", "13", "21", "31")},
    "reference_weight_kg": Num(minimum=0, strict=True, maximum=1000.0, why="kg"),
    "volume_weight_exponent": Num(minimum=0, maximum=1, why="0 (no effect) to 1 (per kg)"),
    "r_ketamine_clearance_ratio": Num(minimum=0, strict=True, maximum=10.0, why="published ratios are 0.7-1.0"),
    "brain_partition": Choice(BRAIN_PARTITIONS),
    "disposition_of": Choice(DISPOSITION_OF),
    "brain_plasma_ratio_total": Num(minimum=0, strict=True, maximum=MAX_SCALE, why="a tissue : plasma ratio"),
    "plasma_free_fraction": Num(minimum=0, maximum=1, strict=True),
    "ke0_per_min": Num(minimum=0, strict=True, maximum=1000.0, why="a time constant of 60 ms"),
    "fraction_to_norketamine": _FRACTION,
    "norketamine_v_l_per_kg": _PK_VOLUME,
    "norketamine_half_life_min": _HALF_LIFE_MIN,
    "norketamine_k12_per_min": _PK_RATE,
    "norketamine_k21_per_min": _PK_RATE,
    "fraction_to_hnk": _FRACTION,
    "hnk_v_l_per_kg": _PK_VOLUME,
    "hnk_half_life_min": _HALF_LIFE_MIN,
}
#: Range of each constant of a first-pass model (``pk.first_pass.*``).
_PK_POSITIVE_RATE = Num(minimum=0, strict=True, maximum=1000.0, why="a time constant of 60 ms")
_FIRST_PASS_SPECS = {
    **{f.name: _PK_POSITIVE_RATE for f in dataclasses.fields(FirstPass) if f.name.endswith("_per_min")},
    "liver_k_other_per_min": _PK_RATE,  # kel or kmet may be 0 (not both: FirstPass says so)
    "liver_k_norketamine_per_min": _PK_RATE,
    "gut_fraction": _FRACTION,
    "nasal_fraction": _FRACTION,
    "nasal_spray_mg": Num(minimum=0, strict=True, maximum=10_000.0, why="mg per spray"),
    "nasal_later_spray_factor": Num(minimum=0, maximum=1, why="a later spray absorbs no more than the first"),
    "swallowed_duration_min": _RELEASE_MIN,
    "oral_duration_min": _RELEASE_MIN,
}


def pk_parameters(cfg) -> PKParameters:
    """The pharmacokinetic model (``pk.*``): the chosen model's rates and the shared constants;
    the bioavailability of the IV routes is 1 by definition, the others' ``pk.bioavailability``
    and ``pk.absorption_rate_per_min``. With ``pk.first_pass`` the nasal and oral routes follow
    from it, and their entries of those two tables must be null."""
    first_pass = None if _get(cfg, "pk.first_pass") is None else _first_pass(cfg)
    absorbed = absorbed_routes(first_pass is not None)
    nulls = tuple(r for r in EXTRAVASCULAR if r not in absorbed)
    fraction = Num(minimum=0, strict=True, maximum=1)
    rate = Num(minimum=0, strict=True, maximum=1000.0, why="per min")
    bioavailability = _routes_table(cfg, "pk.bioavailability", absorbed, nulls, fraction)
    specs = {**_PK_SPECS, "name": Choice(_options("pk"))}
    given = {
        "bioavailability": {**INTRAVASCULAR_BIOAVAILABILITY, **bioavailability},
        "first_pass": first_pass,
        "absorption_rate_per_min": _routes_table(cfg, "pk.absorption_rate_per_min", absorbed, nulls, rate),
    }
    return _build(PKParameters, cfg, "pk", specs, given=given, skip=("iiv",))


def pk_variability(cfg) -> dict[str, float]:
    """``pk.iiv``: the spread between people of the chosen model's constants (name -> CV, or
    SD on the logit scale; `ketamine_sim.circuits.slow.pk_variability`); empty when the model gives none."""
    node = _get(cfg, "pk.iiv")
    if node is None:
        return {}
    if not _is_mapping(node):
        raise ConfigError("pk.iiv", f"must be null or a mapping of {', '.join(IIV_PARAMETERS)}, got {node!r}")
    spread = Num(minimum=0, maximum=5.0, why="a CV of 500%")
    iiv = {str(name): spread.read(cfg, f"pk.iiv.{name}") for name in node}
    try:
        check_iiv(iiv, pk_parameters(cfg))
    except ValueError as error:
        field, _, message = str(error).partition(": ")
        raise ConfigError(f"pk.{field}", message) from None
    return iiv


def _first_pass(cfg) -> FirstPass:
    """``pk.first_pass``; an error of the block as a whole names the key it is about."""
    try:
        return _build(FirstPass, cfg, "pk.first_pass", _FIRST_PASS_SPECS)
    except ConfigError as error:
        detail = str(error)[len(error.field) + 2 :]
        if error.field == "pk.first_pass" and detail.startswith("first_pass."):
            key, _, message = detail.partition(" ")
            raise ConfigError(f"pk.{key.rstrip(':')}", message) from None
        raise


def _routes_table(cfg, path: str, routes: tuple[str, ...], nulls: tuple[str, ...], each: Num) -> dict[str, float]:
    """A value per route of ``routes`` at ``path``; the routes of ``nulls`` (described by the
    first pass) must be given as null."""
    node = _get(cfg, path)
    if not _is_mapping(node):
        raise ConfigError(path, f"must be a mapping of {', '.join(routes + nulls)}, got {node!r}")
    for key in node:
        if key not in routes + nulls:
            raise ConfigError(f"{path}.{key}", f"unknown key; allowed: {', '.join(routes + nulls)}")
    for route in nulls:
        if route in node and node[route] is not None:
            raise ConfigError(
                f"{path}.{route}", f"must be null: pk.first_pass describes route {route!r} (got {node[route]!r})"
            )
    for route in routes:
        if route not in node:
            raise ConfigError(f"{path}.{route}", "missing")
        if node[route] is None:
            raise ConfigError(
                f"{path}.{route}",
                "is null, which only a model with pk.first_pass allows (it describes the nasal and oral "
                "routes); this model's pk.first_pass is null",
            )
    return {route: each.read(cfg, f"{path}.{route}") for route in routes}


#: Range of each published constant of the NMDA block (``block.*``).
_BLOCK_SPECS = {
    "ic50_racemic_uM": Num(minimum=0, strict=True, maximum=MAX_CONCENTRATION_UM, why="1 mM, the model's range"),
    "hill_racemic": Num(minimum=0, strict=True, maximum=MAX_SCALE, why="a Hill coefficient"),
    "kon_per_M_per_s": Num(minimum=0, strict=True, maximum=1e10, why="the diffusion limit, about 1e9-1e10 /M/s"),
    "koff_per_s": Num(minimum=0, strict=True, maximum=1e6, why="an unblock within a microsecond"),
    "delta": Num(minimum=0, strict=True, maximum=1, why="a fraction of the membrane's field"),
    "temperature_K": Num(minimum=273.15, maximum=313.15, why="recordings at 0-40 degC"),
    "trapped_fraction": Num(minimum=0, strict=True, maximum=1),
    "trapping_washout_s": Num(minimum=0, strict=True, maximum=86_400.0, why="a day"),
    "ki_uM": Table(KI_SPECIES, Num(minimum=0, strict=True, maximum=MAX_CONCENTRATION_UM, why="1 mM")),
    "ic50_hnk_uM": Num(minimum=0, strict=True, maximum=MAX_CONCENTRATION_UM, why="1 mM, the model's range"),
}


def block_constants(cfg) -> BlockConstants:
    """The published constants of ketamine's NMDA block (``block.*``)."""
    return _build(
        BlockConstants, cfg, "block", _BLOCK_SPECS, skip=("fit", "trapping_escape", "targets", "mg_competition")
    )


def block(cfg) -> BlockParameters:
    """The block scheme's per-species constants: ``block.*`` with ``block.fit``,
    ``block.trapping_escape`` and ``block.mg_competition``."""
    constants = block_constants(cfg)
    return block_parameters(
        constants,
        _choice(cfg, "block.fit", FITS),
        _flag(cfg, "block.trapping_escape"),
        _flag(cfg, "block.mg_competition"),
    )


def dosing_events(cfg) -> tuple[list[DosingEvent], float]:
    """Every dose of ``dosing.*`` as a pharmacokinetic event, with the body weight (kg). The
    events lie on the dosing clock (``dose_starts_min``: the first starts at 0)."""
    route = _choice(cfg, "dosing.route", ROUTES)
    duration = _number(cfg, "dosing.duration_min", minimum=0)
    if route == "iv_infusion" and duration <= 0:
        raise ConfigError("dosing.duration_min", f"must be > 0 for route iv_infusion, got {duration}")
    if route != "iv_infusion" and duration != 0:
        raise ConfigError(
            "dosing.duration_min", f"must be 0 for route {route} (only iv_infusion lasts), got {duration}"
        )
    body_weight = _number(cfg, "dosing.body_weight_kg", minimum=0, strict=True)
    if _get(cfg, "dosing.dose_mg") is None:
        dose = _number(cfg, "dosing.dose_mg_per_kg", minimum=0)
    else:  # a flat dose (esketamine's 56 or 84 mg) per body weight
        dose = _number(cfg, "dosing.dose_mg", minimum=0) / body_weight
    events = [
        DosingEvent(route=route, dose_mg_per_kg=dose, start_min=start, duration_min=duration)
        for start in dose_starts_min(cfg)
    ]
    return events, body_weight


def dose_starts_min(cfg) -> list[float]:
    """The start of every dose on the *dosing clock*: 0 for the first, 1440 x ``dosing.days``
    for the others (min).

    The dosing clock is the one time axis of every experiment with a dose: minutes from the
    start of the first dose (negative before it), as clinicians count ("-10 min", "+40 min",
    "day 7"). Every time key of an experiment block (``iv_infusion.*_min``, ``course.*``;
    ``evoked_release.*_min`` count from the application), every ``manipulation.*_window_min``
    and the output's ``time_from_dose_s`` are on it. ``dosing.start_min`` (checked here: a
    finite number) says where the first dose starts; every one of those times moves with
    it, so it changes no window, no concentration and no result."""
    _number(cfg, "dosing.start_min")
    return [1440.0 * day for day in dose_days(cfg)]


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
        raise ConfigError(
            path,
            f"must be <= {MAX_CONCENTRATION_UM:g} uM (1 mM, over 10x anaesthetic brain levels; "
            f"the model is not valid above), got {given!r} = {value_uM:g} uM",
        )


def train(cfg) -> tuple[int, float]:
    """The test train of ``experiment=evoked_release``: (pulses, interval in ms)."""
    pulses = int(
        _number(
            cfg,
            "evoked_release.train_pulses",
            minimum=1,
            integer=True,
            maximum=MAX_TRAIN_PULSES,
            why="memory: one release value per pulse and cell",
        )
    )
    frequency = _number(
        cfg,
        "evoked_release.train_frequency_hz",
        minimum=0,
        strict=True,
        maximum=MAX_TRAIN_HZ,
        why="a 1 ms interval between pulses",
    )
    return pulses, 1000.0 / frequency


def dose_folder(dose_mg_per_kg: float) -> str:
    """The folder of one dose of ``experiment=dose_response``: ``dose_<dose>_mg_per_kg``, the dose
    written as ``%g`` where that reads back as the same number (``0.5``, ``1``), else in full
    (``0.1000001``), so that distinct doses get distinct folders."""
    text = f"{dose_mg_per_kg:g}"
    if float(text) != float(dose_mg_per_kg):
        text = repr(float(dose_mg_per_kg))
    return f"dose_{text}_mg_per_kg"


def dose_list(cfg) -> list[float]:
    """``dose_response.doses_mg_per_kg``: distinct doses (each writes its own folder, ``dose_folder``)."""
    path = "dose_response.doses_mg_per_kg"
    doses = _get(cfg, path)
    if not _is_list(doses) or len(doses) == 0:
        raise ConfigError(path, f"must be a non-empty list of doses, got {doses!r}")
    if len(doses) > MAX_DOSES:
        raise ConfigError(path, f"at most {MAX_DOSES} doses (each runs the whole protocol), got {len(doses)}")
    out = [_number(cfg, f"{path}.{i}", minimum=0, maximum=MAX_DOSE_MG_PER_KG, why=_DOSE_WHY) for i in range(len(doses))]
    _distinct(path, out, key=dose_folder)
    return out


def course_windows_min(cfg) -> tuple[list[float], float, float]:
    """The course's window times, its start and its end, all in min on the dosing clock
    (``dose_starts_min``): ``course.windows_per_dose_min`` around every dose,
    ``course.window_days_after_last_dose`` up to ``dosing.follow_days``; the start is
    ``course.start_min``, the end ``dosing.follow_days`` after the last dose."""
    around = [
        _number(cfg, f"course.windows_per_dose_min.{i}") for i in range(len(_get(cfg, "course.windows_per_dose_min")))
    ]
    after = [
        _number(cfg, f"course.window_days_after_last_dose.{i}", minimum=0, strict=True)
        for i in range(len(_get(cfg, "course.window_days_after_last_dose")))
    ]
    follow = _number(cfg, "dosing.follow_days", minimum=0, strict=True)
    start = _number(cfg, "course.start_min")
    for key in ("course.timeline_step_s", "course.timeline_step_far_s", "course.fine_hours_after_dose"):
        _number(cfg, key, minimum=0, strict=True)
    if not around or around[0] >= 0:
        raise ConfigError(
            "course.windows_per_dose_min", f"needs a first window before the dose (the baseline), got {around}"
        )
    if around[0] < start:
        raise ConfigError("course.start_min", f"must be <= the first window ({around[0]} min), got {start}")
    doses = dose_starts_min(cfg)
    end = doses[-1] + 1440.0 * follow + 30.0  # room for a window on the last day
    times = {round(d + m, 6) for d in doses for m in around} | {
        round(doses[-1] + 1440.0 * d, 6) for d in after if d <= follow
    }
    window_min = float(_get(cfg, "circuit.window_s")) / 60.0
    ordered = sorted(times)
    kept = [ordered[0]]
    for m in ordered[1:]:
        if m >= kept[-1] + window_min and m + window_min <= end:
            kept.append(m)
    _check_manipulation_windows(cfg, start, end)
    return kept, start, end


def back_to_back_span_min(cfg, block: str) -> tuple[float, float] | None:
    """``<block>.back_to_back_min``: ``[from, to]`` (min on the dosing clock), the span filled with
    windows that follow one another without a gap; None where the block has none or it is null."""
    if "back_to_back_min" not in _get(cfg, block):
        return None
    return _span_min(cfg, f"{block}.back_to_back_min")


def back_to_back_count(span_min: tuple[float, float], window_s: float) -> int:
    """How many windows of ``window_s`` (s) fit one after another in ``span_min`` ([from, to], min).

    >>> back_to_back_count((0.0, 1.0), 2.0), back_to_back_count((0.0, 0.01), 2.0)
    (30, 0)
    """
    return int(np.floor(60.0 * (span_min[1] - span_min[0]) / window_s + 1e-9))


def window_minutes(cfg, block: str) -> list[float]:
    """The window starts of ``<block>`` (min on the dosing clock), in time order: those of
    ``window_times_min`` and, with ``back_to_back_min: [from, to]``, one every
    ``circuit.window_s`` from ``from`` while it ends by ``to`` (at most `MAX_WINDOWS`)."""
    listed = [float(m) for m in _get(cfg, f"{block}.window_times_min")]
    span = back_to_back_span_min(cfg, block)
    if span is None:
        return listed
    window_s = float(_get(cfg, "circuit.window_s"))
    count = back_to_back_count(span, window_s)
    _window_count(f"{block}.back_to_back_min", len(listed) + count)
    return sorted(listed + [span[0] + k * window_s / 60.0 for k in range(count)])


def _check_back_to_back(cfg, block: str, listed: list[float], start: float, end: float, window_min: float) -> None:
    """``<block>.back_to_back_min`` holds at least one window, lies within the protocol and
    overlaps no listed window (each error names the span)."""
    span = back_to_back_span_min(cfg, block)
    if span is None:
        return
    path = f"{block}.back_to_back_min"
    count = back_to_back_count(span, 60.0 * window_min)
    if count < 1:
        raise ConfigError(
            path, f"[{span[0]:g}, {span[1]:g}] min holds no window of circuit.window_s = {60.0 * window_min:g} s"
        )
    _window_count(path, len(listed) + count)
    last_end = span[0] + count * window_min
    if span[0] < start or last_end > end + 1e-9:
        raise ConfigError(path, f"its windows must lie within {block}.start_min ({start:g}) and end_min ({end:g}) min")
    for t in listed:
        if t + window_min > span[0] + 1e-9 and t < last_end - 1e-9:
            raise ConfigError(
                path,
                f"its windows ({span[0]:g} to {last_end:g} min) overlap the listed window at {t:g} min "
                f"({block}.window_times_min)",
            )


def _check_window_times(cfg, block: str, onset_min: float = 0.0, what: str = "the first dose (time 0)") -> None:
    """``<block>.window_times_min``, ``start_min`` and ``end_min`` (min on the dosing clock):
    increasing windows that do not overlap, within the protocol, the first before ``onset_min``
    (the baseline); timed manipulations within the protocol."""
    path = f"{block}.window_times_min"
    listed = [_number(cfg, f"{path}.{i}") for i in range(len(_get(cfg, path)))]
    if not listed:
        raise ConfigError(path, "needs at least one window time")
    start = _number(cfg, f"{block}.start_min")
    end = _number(cfg, f"{block}.end_min")
    _number(cfg, f"{block}.timeline_step_s", minimum=0, strict=True)
    if listed != sorted(listed) or len(set(listed)) != len(listed):
        raise ConfigError(path, f"must be strictly increasing, got {listed}")
    window_min = float(_get(cfg, "circuit.window_s")) / 60.0
    _check_back_to_back(cfg, block, listed, start, end, window_min)
    times = window_minutes(cfg, block)
    for a, b in zip(times, times[1:]):
        if b < a + window_min - 1e-9:
            raise ConfigError(
                path, f"windows at {a:g} and {b:g} min overlap (each lasts circuit.window_s = {60.0 * window_min:g} s)"
            )
    if times[0] >= onset_min:
        raise ConfigError(path, f"the first window ({times[0]} min) is the baseline and must come before {what}")
    if times[0] < start or times[-1] + window_min > end:
        raise ConfigError(path, f"windows must lie within {block}.start_min ({start}) and end_min ({end})")
    _check_manipulation_windows(cfg, start, end)


def scorecard_settings(cfg) -> None:
    """``scorecard.*``: known hypotheses, seeds, the shape of ``records``, jobs. (That the
    records exist and have a registered observable is checked by the scorecard experiment
    kind, ``ketamine_sim.experiments.kinds``, which knows the observables.)"""
    from ketamine_sim.experiments.paths import HYPOTHESIS_DIR, SEEDS_DIR

    known = sorted(p.stem for p in HYPOTHESIS_DIR.glob("*.yaml"))
    hypotheses = _get(cfg, "scorecard.hypotheses")
    if not _is_list(hypotheses) or len(hypotheses) == 0:
        raise ConfigError("scorecard.hypotheses", f"must be a non-empty list of hypotheses ({', '.join(known)})")
    for h in hypotheses:
        if h not in known:
            raise ConfigError("scorecard.hypotheses", f"unknown hypothesis {h!r}; allowed: {', '.join(known)}")
    _scorecard_lists(cfg)
    seeds = _get(cfg, "scorecard.seeds")
    if not _is_list(seeds) or len(seeds) == 0:
        raise ConfigError("scorecard.seeds", f"must be a non-empty list of seeds, got {seeds!r}")
    for i in range(len(seeds)):
        seed(cfg, f"scorecard.seeds.{i}")
    if _get(cfg, "scorecard.n_jobs") is not None:
        _number(cfg, "scorecard.n_jobs", minimum=1, integer=True)
    _number(cfg, "scorecard.none_band", minimum=0)
    _number(cfg, "scorecard.cohort_patients", minimum=1, integer=True, maximum=MAX_PATIENTS, why="runs of a cohort")
    folder = _get(cfg, "scorecard.seeds_dir") or SEEDS_DIR
    if not Path(folder).is_dir():
        raise ConfigError("scorecard.seeds_dir", f"not a folder: {folder}")
    records = _get(cfg, "scorecard.records")
    if records is not None and (not _is_list(records) or len(records) == 0):
        raise ConfigError(
            "scorecard.records",
            f"must be null (every record with a registered readout) or a non-empty list of record ids, got {records!r}",
        )


def _scorecard_lists(cfg) -> None:
    """Distinct hypotheses and seeds, bounded jobs and band, records and extra overrides as
    lists of strings (besides the checks of ``scorecard_settings``)."""
    _distinct("scorecard.hypotheses", list(_get(cfg, "scorecard.hypotheses")))
    seeds = _get(cfg, "scorecard.seeds")
    if _is_list(seeds):
        _distinct("scorecard.seeds", list(seeds))
    if _get(cfg, "scorecard.n_jobs") is not None:
        _number(cfg, "scorecard.n_jobs", minimum=1, integer=True, maximum=MAX_JOBS, why="parallel processes")
    _number(cfg, "scorecard.none_band", minimum=0, maximum=MAX_SCALE, why="a relative change")
    _extra_overrides(cfg)
    if _get(cfg, "scorecard.records") is not None:
        _strings(cfg, "scorecard.records")


#: Keys that every scorecard run sets itself (later overrides win: an extra one would be lost).
_SCORECARD_SETS = ("hypothesis", "seed", "experiment")
#: Keys that every cohort of the scorecard sets itself: its patients' draws (the seed) and number.
_SCORECARD_COHORT_SETS = {
    "cohort.seed": "the scorecard's seed",
    "cohort.n_patients": "scorecard.cohort_patients",
}
#: Keys of the scorecard's own command line that its runs inherit (an extra override would
#: silently contradict them): set them on the scorecard's command line instead.
_SCORECARD_INHERITS = ("circuit", "backend", *SCORECARD_BACKEND_KEYS, "output", "output.figure")


def _extra_overrides(cfg) -> None:
    """``scorecard.extra_overrides``: Hydra overrides that parse, each key once, none of the
    keys the scorecard sets per run."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    path = "scorecard.extra_overrides"
    seen = set()
    for text in _strings(cfg, path):
        try:
            key = OverridesParser.create().parse_overrides([text])[0].key_or_group
        except OverrideParseException as error:
            raise ConfigError(path, f"cannot parse {text!r}: {' '.join(error.message.split())}") from None
        if key in seen or key.split(".")[0] in _SCORECARD_SETS:
            raise ConfigError(
                path,
                f"{text!r}: "
                + ("its key is given twice" if key in seen else f"every run sets {key.split('.')[0]} itself"),
            )
        if key in _SCORECARD_COHORT_SETS:
            raise ConfigError(
                path, f"{text!r}: every cohort of the scorecard sets {key} from {_SCORECARD_COHORT_SETS[key]}"
            )
        if key == "backend":
            raise ConfigError(path, f"{text!r}: {SCORECARD_BACKEND_GROUP}")
        if key in _SCORECARD_INHERITS or key.split(".")[0] == "hydra" or key.startswith("hydra/"):
            raise ConfigError(
                path,
                f"{text!r}: the runs take {key} from the scorecard's own command line; "
                f"set it there (e.g. ketamine-sim experiment=scorecard {text})",
            )
        seen.add(key)


def _strings(cfg, path: str) -> list[str]:
    values = _get(cfg, path)
    if not _is_list(values) or not all(isinstance(v, str) for v in values):
        raise ConfigError(path, f"must be a list of strings, got {values!r}")
    return list(values)


def validate(cfg) -> None:
    """Check the fields every experiment uses, then those of the chosen experiment (the checks of
    its kind, ``KIND_CHECKS``); raise ConfigError on the first bad one.

    ``ketamine_sim.experiments.kinds.validate`` runs this and what the experiment kind checks besides
    (the scorecard's records)."""
    seed(cfg)
    experiment = _choice(cfg, "experiment.name", EXPERIMENTS)
    check_keys(cfg, experiment)
    _flag(cfg, "output.figure")
    _flag(cfg, "output.connectivity")
    _flag(cfg, "circuit.carry_state")
    engine_options(cfg)
    cache_dir(cfg)
    circuit_structure(cfg)
    circuit_drive(cfg)
    neurochemistry(cfg)
    a1_antagonist(cfg)
    drug(cfg)
    KIND_CHECKS[experiment](cfg)


def bath_checks(cfg) -> None:
    """``experiment=bath``: concentrations, equilibration, no timed manipulation, the protocol's size."""
    bath_concentrations_uM(cfg)
    _number(cfg, "bath.equilibration_s", minimum=0, strict=True)
    _number(cfg, "bath.timeline_step_s", minimum=0, strict=True)
    plasticity(cfg)
    if manipulation_window(cfg, "ampa_block") or manipulation_window(cfg, "mtor_block"):
        raise ConfigError(
            "manipulation", "timed manipulations (*_window_min) need a protocol with a dosing clock, not bath"
        )
    _bath_protocol(cfg)


def evoked_release_checks(cfg) -> None:
    """``experiment=evoked_release``: the concentration, the train, the windows from the application."""
    evoked_concentration_uM(cfg)
    train(cfg)
    _check_window_times(cfg, "evoked_release", 0.0, "the drug is applied (time 0)")
    plasticity(cfg)
    manipulation_schedule(cfg, [0.0])
    _window_protocol(cfg, "evoked_release")


def _dosed_checks(cfg) -> None:
    """What every protocol with doses checks first: the PK model, the dosing events, and that
    the model describes the route for every species dosed."""
    params = pk_parameters(cfg)
    pk_variability(cfg)
    events, _ = dosing_events(cfg)
    dosed = drug(cfg).composition
    try:
        first_pass_route_check(params, events, dosed)
    except ValueError as error:
        raise ConfigError("dosing.route", str(error)) from None


def iv_infusion_checks(cfg) -> None:
    """``experiment=iv_infusion``: dosing, the windows on the dosing clock, the protocol's size."""
    _dosed_checks(cfg)
    _check_window_times(cfg, "iv_infusion")  # on the dosing clock: the first dose at 0
    plasticity(cfg)
    manipulation_schedule(cfg, [0.0])
    _dosing_ranges(cfg)
    _window_protocol(cfg, "iv_infusion")


def dose_response_checks(cfg) -> None:
    """``experiment=dose_response``: the dose list (no flat dose), then as ``iv_infusion``."""
    _dosed_checks(cfg)
    dose_list(cfg)
    if _get(cfg, "dosing.dose_mg") is not None:  # a flat dose would replace every dose of the list
        raise ConfigError(
            "dosing.dose_mg",
            "must be null in experiment=dose_response: the doses are dose_response.doses_mg_per_kg",
        )
    _check_window_times(cfg, "iv_infusion")
    plasticity(cfg)
    manipulation_schedule(cfg, [0.0])
    _dosing_ranges(cfg)
    _window_protocol(cfg, "iv_infusion")


def course_checks(cfg) -> None:
    """``experiment=course``: dosing, the course's windows, the protocol's size."""
    _dosed_checks(cfg)
    course_windows_min(cfg)
    plasticity(cfg)
    manipulation_schedule(cfg, [0.0])
    _dosing_ranges(cfg)
    _course_protocol(cfg)


def cohort_checks(cfg) -> None:
    """``experiment=cohort``: the course every patient runs, and ``cohort.*``."""
    course_checks(cfg)
    _number(cfg, "cohort.n_patients", minimum=1, integer=True, maximum=MAX_PATIENTS, why="runs of a cohort")
    seed(cfg, "cohort.seed")
    if _get(cfg, "cohort.n_jobs") is not None:
        _number(cfg, "cohort.n_jobs", minimum=1, integer=True, maximum=MAX_JOBS, why="parallel processes")
    _number(cfg, "cohort.response_fraction", minimum=0, maximum=1, strict=True)
    _number(cfg, "cohort.state_spread", minimum=0, maximum=MAX_SPREAD, why="a CV of 200%")
    _number(cfg, "cohort.plasticity_spread", minimum=0, maximum=MAX_SPREAD, why="a CV of 200%")
    _number(cfg, "cohort.placebo_response", minimum=0, maximum=1)


SENSITIVITY_METHODS = ("morris", "sobol")
#: Keys a sensitivity analysis cannot vary: they choose what runs, not a model constant.
_NOT_VARIED = ("experiment.", "sensitivity.", "hydra.", "backend.", "output.", "seed")


def sensitivity_checks(cfg) -> None:
    """``experiment=sensitivity``: the course every sample runs, and ``sensitivity.*``: the
    method and its size, and every parameter a numeric model key given once with low < high."""
    course_checks(cfg)
    method = _choice(cfg, "sensitivity.method", SENSITIVITY_METHODS)
    samples = int(_number(cfg, "sensitivity.samples", minimum=2, integer=True))
    levels = int(_number(cfg, "sensitivity.levels", minimum=2, integer=True, maximum=1000, why="grid levels"))
    if method == "morris" and levels % 2:
        raise ConfigError("sensitivity.levels", f"must be even (Morris's grid), got {levels}")
    if method == "sobol" and samples & (samples - 1):
        raise ConfigError("sensitivity.samples", f"must be a power of 2 for sobol (Saltelli's scheme), got {samples}")
    seed(cfg, "sensitivity.seed")
    if _get(cfg, "sensitivity.n_jobs") is not None:
        _number(cfg, "sensitivity.n_jobs", minimum=1, integer=True, maximum=MAX_JOBS, why="parallel processes")
    _flag(cfg, "sensitivity.noise_floor")
    entries = _get(cfg, "sensitivity.parameters")
    if not _is_list(entries) or len(entries) == 0:
        raise ConfigError("sensitivity.parameters", "must be a non-empty list of {key: ..., low: ..., high: ...}")
    seen = set()
    for i, entry in enumerate(entries):
        _sensitivity_parameter(cfg, f"sensitivity.parameters.{i}", entry, seen)
    last_day = max(dose_days(cfg)) + _number(cfg, "dosing.follow_days")
    if last_day < 7.0:
        raise ConfigError(
            "dosing.follow_days",
            f"the sensitivity analysis reads the mood proxy 7 days after the first dose; the course ends on day "
            f"{last_day:g} (follow at least {7.0 - max(dose_days(cfg)):g} days after the last dose)",
        )
    k = len(entries) + bool(_get(cfg, "sensitivity.noise_floor"))
    runs = samples * (k + 1) if method == "morris" else samples * (k + 2)
    if runs > MAX_SENSITIVITY_RUNS:
        raise ConfigError(
            "sensitivity.samples",
            f"the design needs {runs} runs; at most {MAX_SENSITIVITY_RUNS} (fewer samples or parameters)",
        )


def _sensitivity_parameter(cfg, path: str, entry, seen: set) -> None:
    """One ``sensitivity.parameters`` entry: exactly key, low, high; the key a numeric model
    key of the config, not given before; low < high, both finite."""
    from omegaconf import DictConfig, OmegaConf

    if not isinstance(entry, (dict, DictConfig)) or set(entry) != {"key", "low", "high"}:
        raise ConfigError(path, f"must be {{key: <config key>, low: <number>, high: <number>}}, got {entry!r}")
    key = entry["key"]
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*", key):
        raise ConfigError(f"{path}.key", f"must be a dotted config key such as plasticity.bdnf_gain, got {key!r}")
    if key == "seed":
        raise ConfigError(f"{path}.key", "the circuit seed is analysed by sensitivity.noise_floor=true")
    if key.startswith(_NOT_VARIED):
        raise ConfigError(f"{path}.key", f"{key} chooses what runs, not a model constant")
    current = OmegaConf.select(cfg, key, default=None)
    if isinstance(current, bool) or not isinstance(current, (int, float)):
        raise ConfigError(f"{path}.key", f"{key} is not a numeric key of the config (it holds {current!r})")
    if key in seen:
        raise ConfigError(f"{path}.key", f"{key} is given twice; give each parameter once")
    seen.add(key)
    low = _number(cfg, f"{path}.low")
    high = _number(cfg, f"{path}.high")
    if not low < high:
        raise ConfigError(f"{path}.high", f"must be > low ({low:g}), got {high:g}")


#: The checks of each experiment kind's own settings (the registry of kinds,
#: ``ketamine_sim.experiments.kinds.KINDS``, adds what needs the layers above).
KIND_CHECKS = {
    "bath": bath_checks,
    "evoked_release": evoked_release_checks,
    "iv_infusion": iv_infusion_checks,
    "dose_response": dose_response_checks,
    "course": course_checks,
    "scorecard": lambda cfg: scorecard_settings(cfg),
    "cohort": lambda cfg: cohort_checks(cfg),
    "sensitivity": lambda cfg: sensitivity_checks(cfg),
}


# --------------------------------------------------------------------------- the protocol as a whole
def _timeline_points(path: str, span_s: float, step_s: float) -> None:
    if step_s > MAX_TIMELINE_STEP_S:
        raise ConfigError(
            path,
            f"must be <= {MAX_TIMELINE_STEP_S:g} s (a day: the slow layer's time constants are "
            f"minutes to hours), got {step_s:g}",
        )
    points = span_s / step_s
    if points > MAX_TIMELINE_POINTS:
        raise ConfigError(
            path,
            f"the slow timeline would hold {points:.3g} points; at most {MAX_TIMELINE_POINTS} "
            f"fit in memory and time (a larger step or a shorter protocol), got step {step_s:g} s",
        )


def _window_count(path: str, count: int) -> None:
    if count > MAX_WINDOWS:
        raise ConfigError(path, f"at most {MAX_WINDOWS} windows (each runs the network), got {count}")


def _bath_protocol(cfg) -> None:
    values = bath_concentrations_uM(cfg)
    _window_count("bath.concentrations_uM", len(values))
    equilibration = _number(cfg, "bath.equilibration_s", minimum=0, strict=True, maximum=86_400.0, why="a day")
    step = _number(cfg, "bath.timeline_step_s", minimum=0, strict=True)
    _timeline_points("bath.timeline_step_s", len(values) * (equilibration + float(_get(cfg, "circuit.window_s"))), step)


def _list_numbers(cfg, path: str, **limits) -> list[float]:
    values = _get(cfg, path)
    if not _is_list(values):
        raise ConfigError(path, f"must be a list of numbers, got {values!r}")
    return [_number(cfg, f"{path}.{i}", **limits) for i in range(len(values))]


def _increasing(path: str, values: list[float]) -> None:
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ConfigError(path, f"must be strictly increasing, got {values}")


def _window_protocol(cfg, block: str) -> None:
    """``<block>.window_times_min``, ``start_min``, ``end_min``, ``timeline_step_s``: the
    protocol lasts at most a year and its windows and timeline fit."""
    path = f"{block}.window_times_min"
    _window_count(
        path, len(_list_numbers(cfg, path, minimum=-MAX_PROTOCOL_MIN, maximum=MAX_PROTOCOL_MIN, why="a year"))
    )
    start = _number(cfg, f"{block}.start_min", minimum=-MAX_PROTOCOL_MIN, maximum=MAX_PROTOCOL_MIN, why="a year")
    end = _number(cfg, f"{block}.end_min", minimum=-MAX_PROTOCOL_MIN, maximum=MAX_PROTOCOL_MIN, why="a year")
    if end <= start:
        raise ConfigError(f"{block}.end_min", f"must be after {block}.start_min ({start:g}), got {end:g}")
    if end - start > MAX_PROTOCOL_MIN:
        raise ConfigError(
            f"{block}.end_min",
            f"the protocol may last at most {MAX_PROTOCOL_MIN:g} min (a year), got {end - start:g} min",
        )
    _timeline_points(
        f"{block}.timeline_step_s",
        60.0 * (end - start),
        _number(cfg, f"{block}.timeline_step_s", minimum=0, strict=True),
    )


def _dosing_ranges(cfg) -> None:
    """``dosing.*`` within the model's range: the dose, the body weight, the infusion, the clock."""
    weight = _number(cfg, "dosing.body_weight_kg", minimum=0, strict=True, maximum=MAX_BODY_WEIGHT_KG, why="kg")
    if _get(cfg, "dosing.dose_mg") is None:
        _number(cfg, "dosing.dose_mg_per_kg", minimum=0, maximum=MAX_DOSE_MG_PER_KG, why=_DOSE_WHY)
    else:
        _number(
            cfg,
            "dosing.dose_mg",
            minimum=0,
            maximum=MAX_DOSE_MG_PER_KG * weight,
            why=f"{MAX_DOSE_MG_PER_KG:g} mg/kg at dosing.body_weight_kg {weight:g}, {_DOSE_WHY}",
        )
    _number(cfg, "dosing.duration_min", minimum=0, maximum=MAX_INFUSION_MIN, why="an infusion of at most a day")
    _number(
        cfg,
        "dosing.start_min",
        minimum=-MAX_CLOCK_MIN,
        maximum=MAX_CLOCK_MIN,
        why="the first dose within a week of the protocol clock's 0",
    )
    _list_numbers(cfg, "dosing.days", minimum=0, maximum=MAX_PROTOCOL_MIN / 1440.0, why="a year")
    _window_count("dosing.days", len(_get(cfg, "dosing.days")))
    _number(cfg, "dosing.follow_days", minimum=0, strict=True, maximum=MAX_PROTOCOL_MIN / 1440.0, why="a year")


def _course_protocol(cfg) -> None:
    """``course.*``: window lists in order, a course of at most a year whose timeline and
    windows fit."""
    around = _list_numbers(cfg, "course.windows_per_dose_min", minimum=-1440.0, maximum=MAX_PROTOCOL_MIN, why="a year")
    _increasing("course.windows_per_dose_min", around)
    _increasing(
        "course.window_days_after_last_dose",
        _list_numbers(
            cfg,
            "course.window_days_after_last_dose",
            minimum=0,
            strict=True,
            maximum=MAX_PROTOCOL_MIN / 1440.0,
            why="a year",
        ),
    )
    _number(cfg, "course.start_min", minimum=-MAX_CLOCK_MIN, maximum=MAX_CLOCK_MIN, why="a week")
    _number(cfg, "course.fine_hours_after_dose", minimum=0, strict=True, maximum=24.0 * 7, why="a week")
    windows, start, end = course_windows_min(cfg)
    _window_count("course.windows_per_dose_min", len(windows))
    if end - start > MAX_PROTOCOL_MIN:
        raise ConfigError(
            "dosing.follow_days",
            f"the course may last at most {MAX_PROTOCOL_MIN / 1440.0:g} days (a year), got {(end - start) / 1440.0:g}",
        )
    far = _number(cfg, "course.timeline_step_far_s", minimum=0, strict=True)
    fine = _number(cfg, "course.timeline_step_s", minimum=0, strict=True)
    _timeline_points("course.timeline_step_far_s", 60.0 * (end - start), far)
    doses = len(_get(cfg, "dosing.days"))
    _timeline_points("course.timeline_step_s", doses * 3600.0 * _number(cfg, "course.fine_hours_after_dose"), fine)


#: The joblib launcher's keys that take one of a few values (joblib.Parallel's arguments).
_JOBLIB_CHOICES = {
    "backend": (None, "loky", "multiprocessing", "threading"),
    "prefer": (None, "processes", "threads"),
    "require": (None, "sharedmem"),
    "mmap_mode": (None, "r+", "r", "w+", "c"),
}


def launcher_settings(cfg) -> None:
    """``hydra.launcher.*`` of a config composed with its ``hydra`` node (the keys the chosen
    launcher has): whole numbers of jobs, CPUs and minutes >= 1, memory > 0."""
    import dataclasses

    from omegaconf import OmegaConf

    launcher = cfg.get("hydra", {}).get("launcher") or {}
    if OmegaConf.is_config(launcher):  # an interpolation that cannot resolve (n_jobs=${oops}) is a ConfigError
        for key, value in OmegaConf.to_container(launcher, resolve=False).items():
            _resolved(cfg, f"hydra.launcher.{key}", value)
    schema = OmegaConf.get_type(launcher) if OmegaConf.is_config(launcher) else None
    if schema is not None and dataclasses.is_dataclass(schema):  # the plugin's config class: its fields are the keys
        fields = {f.name for f in dataclasses.fields(schema)}
        for key in launcher:
            if key not in fields:
                near = difflib.get_close_matches(str(key), sorted(fields), n=1)
                raise ConfigError(
                    f"hydra.launcher.{key}",
                    f"unknown key of this launcher{f'; did you mean hydra.launcher.{near[0]}?' if near else ''}",
                )
    for key in ("n_jobs", "cpus_per_task", "timeout_min", "array_parallelism", "tasks_per_node", "nodes"):
        if launcher.get(key) is not None:
            _number(
                cfg,
                f"hydra.launcher.{key}",
                minimum=1,
                integer=True,
                maximum=MAX_JOBS if key == "n_jobs" else None,
                why="parallel processes",
            )
    for key, allowed in _JOBLIB_CHOICES.items():
        if "joblib" in str(launcher.get("_target_", "")) and launcher.get(key) not in allowed:
            raise ConfigError(
                f"hydra.launcher.{key}",
                f"unknown value {launcher.get(key)!r}; allowed: {', '.join(str(a) for a in allowed)}",
            )
    batch = launcher.get("batch_size")
    if batch not in (None, "auto") and not (str(batch).isdigit() and int(batch) >= 1):  # joblib's str-typed field
        raise ConfigError("hydra.launcher.batch_size", f"must be auto or a whole number >= 1, got {batch!r}")
    if launcher.get("mem_gb") is not None:
        _number(cfg, "hydra.launcher.mem_gb", minimum=0, strict=True)
    name = _get(cfg, "experiment.name")  # an experiment of many runs has <name>.n_jobs
    launched_jobs(
        str(launcher.get("_target_", "")),
        OmegaConf.select(cfg, f"{name}.n_jobs"),
        f"{name}.n_jobs",
        OmegaConf.select(cfg, "hydra.runtime.choices", default={}).get("hydra/launcher"),
    )


#: The launcher (hydra/launcher=local) whose parallel processes an experiment's ``n_jobs`` sets.
JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


def launched_jobs(launcher_target: str, n_jobs, field: str, choice: str | None = None) -> None:
    """An experiment's ``n_jobs`` (``scorecard.n_jobs``, ``cohort.n_jobs``, ``sensitivity.n_jobs``)
    sets the processes of the local launcher (joblib) its runs are launched through; another
    launcher (``choice``: its ``hydra/launcher`` option) runs them as its own keys say
    (``hydra.launcher.array_parallelism``), so a number there would do nothing: refused
    (ConfigError naming ``field``).

    >>> launched_jobs("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher", 2, "scorecard.n_jobs", "slurm")
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.ConfigError: scorecard.n_jobs: sets the parallel runs of hydra/launcher=local; with hydra/launcher=slurm the launcher's own keys decide (e.g. hydra.launcher.array_parallelism): leave it null
    """
    if n_jobs is not None and launcher_target != JOBLIB_LAUNCHER:
        name = f"hydra/launcher={choice}" if choice else (launcher_target.rpartition(".")[2] or "this launcher")
        raise ConfigError(
            field,
            f"sets the parallel runs of hydra/launcher=local; with {name} the launcher's own keys decide "
            "(e.g. hydra.launcher.array_parallelism): leave it null",
        )


def mechanisms(cfg, structure: CircuitStructure) -> dict[str, object]:
    """The parameters of every slow mechanism, by the name of the track that reads them
    (``ketamine_sim.experiments.simulation.tracks.base.SlowContext``)."""
    return {
        "chemistry": neurochemistry(cfg),
        "a1_antagonist": a1_antagonist(cfg),
        "plasticity": plasticity(cfg, structure),
        "network_state": _flag(cfg, "circuit.carry_state"),
    }
