"""Inter-individual variability of the pharmacokinetics: one person's constants.

A population model gives each constant a typical value theta and, for some, the spread
between people. Person i's value is

    theta_i = theta exp(eta_i),          eta_i ~ N(0, omega^2),  omega^2 = ln(1 + CV^2)

(log-normal, the usual form of NONMEM's exponential model, with the reported coefficient of
variation CV), and for a fraction f

    logit(f_i) = logit(f) + eta_i,       eta_i ~ N(0, omega^2)

with omega the reported standard deviation on the logit scale. The spread is given for the
source's own parameters (volumes, flows, rate constants); this module maps each draw onto the
rate constants of [`PKParameters`][ketamine_sim.circuits.slow.pharmacokinetics.PKParameters]: a central
volume V1 scaled by f scales V1 and divides every rate out of the central compartment
(Q/V1) by f, a hepatic blood flow scales both exchange rates with the liver, and so on.

Sources: the inter-individual variability of Perez-Ruixo 2021 [@perezruixo2021esketamine]
(Table 3), configured as ``pk.iiv`` of ``configs/pk/perez_ruixo2021.yaml``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from .pharmacokinetics import PKParameters

#: The parameters that need a model with a first pass (a liver and nasal/gut absorption):
#: ``hepatic_blood_flow`` (Qh), ``liver_volume`` (Vh), ``liver_k_other`` (kel),
#: ``liver_k_norketamine`` (kmet), the absorption rates ``nasal_ka``, ``swallowed_ka``,
#: ``oral_ka`` and the nasal absorbed fraction ``nasal_fraction`` (logit scale).
FIRST_PASS_ONLY: tuple[str, ...] = (
    "hepatic_blood_flow",
    "liver_volume",
    "liver_k_other",
    "liver_k_norketamine",
    "nasal_ka",
    "swallowed_ka",
    "oral_ka",
    "nasal_fraction",
)
#: Every parameter a population model may give a spread for: ``central_volume`` (V1),
#: ``peripheral_volume`` (the first peripheral compartment's volume), ``clearance`` (k10,
#: models without a liver), `FIRST_PASS_ONLY`, ``norketamine_volume`` and
#: ``norketamine_clearance``. The order is part of a cohort's draws (each parameter's
#: generator is seeded with its position): append, never reorder.
IIV_PARAMETERS: tuple[str, ...] = (
    "central_volume",
    "peripheral_volume",
    "clearance",
    *FIRST_PASS_ONLY,
    "norketamine_volume",
    "norketamine_clearance",
)
#: The spread of these is a standard deviation on the logit scale, not a CV.
LOGIT_SCALE: tuple[str, ...] = ("nasal_fraction",)


def omega(spread: float, name: str) -> float:
    """The standard deviation of eta for a reported spread: sqrt(ln(1 + CV^2)) for a CV, the
    value itself on the logit scale (`LOGIT_SCALE`).

    Examples
    --------
    Perez-Ruixo 2021, Table 3: central volume CV 27.5%, nasal fraction 0.708 (logit):

    >>> from ketamine_sim.circuits.slow.pk_variability import omega
    >>> round(omega(0.275, "central_volume"), 4), omega(0.708, "nasal_fraction")
    (0.27, 0.708)
    """
    return spread if name in LOGIT_SCALE else math.sqrt(math.log1p(spread**2))


def check_iiv(iiv: Mapping[str, float], params: PKParameters) -> None:
    """Raise ValueError naming the first entry of ``iiv`` that is not a parameter of
    `IIV_PARAMETERS`, needs a first pass the model lacks, or is not a finite number >= 0.

    Examples
    --------
    >>> from ketamine_sim.experiments import config as C
    >>> from ketamine_sim.circuits.slow.pk_variability import check_iiv
    >>> check_iiv({"liver_volume": 0.3}, C.pk_parameters(C.compose_config(["pk=kamp2020"])))
    Traceback (most recent call last):
    ...
    ValueError: iiv.liver_volume: needs a model with first_pass (pk=kamp2020 has none)
    """
    for name, spread in iiv.items():
        if name not in IIV_PARAMETERS:
            raise ValueError(f"iiv.{name}: unknown parameter; allowed: {', '.join(IIV_PARAMETERS)}")
        if name in FIRST_PASS_ONLY and params.first_pass is None:
            raise ValueError(f"iiv.{name}: needs a model with first_pass (pk={params.name} has none)")
        if name == "clearance" and params.first_pass is not None:
            raise ValueError(f"iiv.clearance: pk={params.name} clears in its liver (use the liver_* entries)")
        if not (math.isfinite(spread) and spread >= 0):
            raise ValueError(f"iiv.{name}: must be a finite number >= 0, got {spread}")


def draw_etas(iiv: Mapping[str, float], rng: np.random.Generator) -> dict[str, float]:
    """One person's eta per entry of ``iiv`` (name -> reported spread), in the order given.

    Parameters
    ----------
    iiv : mapping of str to float
        The reported spread of each parameter (a CV, or an SD on the logit scale for
        `LOGIT_SCALE`).
    rng : numpy.random.Generator
        The person's generator: the same generator state gives the same person.

    Returns
    -------
    dict of str to float
        eta per parameter (dimensionless).

    Examples
    --------
    >>> import numpy as np
    >>> from ketamine_sim.circuits.slow.pk_variability import draw_etas
    >>> etas = draw_etas({"central_volume": 0.275}, np.random.default_rng(1))
    >>> round(etas["central_volume"], 4)
    0.0933
    """
    return {name: float(rng.normal(0.0, omega(spread, name))) for name, spread in iiv.items()}


def individual(params: PKParameters, etas: Mapping[str, float]) -> PKParameters:
    """The constants of the person with ``etas`` (see the module's equations).

    Parameters
    ----------
    params : PKParameters
        The typical person.
    etas : mapping of str to float
        eta per parameter of `IIV_PARAMETERS` (missing: 0, the typical value).

    Returns
    -------
    PKParameters
        The person's constants; all etas 0 gives ``params`` unchanged.

    Raises
    ------
    ValueError
        For a name that `check_iiv` refuses.

    Examples
    --------
    A person whose central volume is e^0.1 times the typical one:

    >>> from ketamine_sim.experiments import config as C
    >>> from ketamine_sim.circuits.slow.pk_variability import individual
    >>> typical = C.pk_parameters(C.compose_config(["pk=perez_ruixo2021"]))
    >>> person = individual(typical, {"central_volume": 0.1})
    >>> round(person.v1_l_per_kg / typical.v1_l_per_kg, 4), round(typical.k12_per_min / person.k12_per_min, 4)
    (1.1052, 1.1052)
    """
    check_iiv({name: 0.0 for name in etas}, params)
    f = {name: math.exp(etas.get(name, 0.0)) for name in IIV_PARAMETERS}
    v1, vp, nk_v = f["central_volume"], f["peripheral_volume"], f["norketamine_volume"]
    changes = {
        "v1_l_per_kg": params.v1_l_per_kg * v1,
        "k10_per_min": params.k10_per_min * f["clearance"] / v1,  # k10 = CL / V1
        "k12_per_min": params.k12_per_min / v1,
        "k13_per_min": params.k13_per_min / v1,
        "k21_per_min": params.k21_per_min / vp,
        "norketamine_v_l_per_kg": params.norketamine_v_l_per_kg * nk_v,
        # k_NK = CLn / Vcn: the half-life scales with Vcn / CLn
        "norketamine_half_life_min": params.norketamine_half_life_min * nk_v / f["norketamine_clearance"],
        "norketamine_k12_per_min": params.norketamine_k12_per_min / nk_v,
    }
    fp = params.first_pass
    if fp is not None:
        frn = fp.nasal_fraction
        logit = math.log(frn / (1.0 - frn)) + etas.get("nasal_fraction", 0.0) if 0.0 < frn < 1.0 else None
        changes["first_pass"] = dataclasses.replace(
            fp,
            k_central_liver_per_min=fp.k_central_liver_per_min * f["hepatic_blood_flow"] / v1,
            k_liver_central_per_min=fp.k_liver_central_per_min * f["hepatic_blood_flow"] / f["liver_volume"],
            liver_k_other_per_min=fp.liver_k_other_per_min * f["liver_k_other"],
            liver_k_norketamine_per_min=fp.liver_k_norketamine_per_min * f["liver_k_norketamine"],
            nasal_ka_per_min=fp.nasal_ka_per_min * f["nasal_ka"],
            swallowed_ka_per_min=fp.swallowed_ka_per_min * f["swallowed_ka"],
            oral_ka_per_min=fp.oral_ka_per_min * f["oral_ka"],
            nasal_fraction=frn if logit is None else 1.0 / (1.0 + math.exp(-logit)),
        )
    return dataclasses.replace(params, **changes)
