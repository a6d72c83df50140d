"""Compounds, molecular species and explicit concentration-unit conversion.

A *drug* (what is dosed: racemic ketamine, esketamine, ...) is a mixture of
molecular *species*. Pharmacokinetics tracks each species; the NMDA receptor
sees each species' brain concentration and each has its own block constant.

Unit conversion (molar mass M in g/mol):

    c [uM] = c [ng/mL] / M [g/mol]        (1 ng/mL = 1 ug/L; 1 ug/L / M = 1/M umol/L)

Molar masses are those of the free bases (PubChem): ketamine C13H16ClNO 237.7 g/mol,
norketamine C12H14ClNO 223.7 g/mol, hydroxynorketamine C12H14ClNO2 239.7 g/mol.

Examples
--------
>>> from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL, ng_per_ml_to_uM
>>> round(ng_per_ml_to_uM(237.73, MOLAR_MASS_G_PER_MOL["s_ketamine"]), 6)
1.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Species tracked by the pharmacokinetic model and the receptor model, in a fixed
#: order (the compiled circuit has one block variable per species).
SPECIES: tuple[str, ...] = ("s_ketamine", "r_ketamine", "s_norketamine", "r_norketamine", "hnk")

#: Molar masses in g/mol (free bases). Ketamine C13H16ClNO 237.7 (TARGETS P7);
#: norketamine C12H14ClNO 223.7; hydroxynorketamine C12H14ClNO2 239.7 (PubChem).
MOLAR_MASS_G_PER_MOL: dict[str, float] = {
    "s_ketamine": 237.73,
    "r_ketamine": 237.73,
    "s_norketamine": 223.70,
    "r_norketamine": 223.70,
    "hnk": 239.70,
}


@dataclass(frozen=True)
class Drug:
    """A dosed preparation: a name and the mass fraction of each species in it.

    Parameters
    ----------
    name : str
        The preparation's name (the options of ``drug=``: ``configs/drug/*.yaml``; the racemate
        is a 50:50 mixture of the enantiomers, not a species of its own).
    composition : dict of str to float
        Mass fraction (dimensionless, summing to 1) of each species of `SPECIES` in the
        preparation; empty for a vehicle (saline).

    Raises
    ------
    ValueError
        If a species is not one of `SPECIES`, or the fractions do not sum to 1.

    Examples
    --------
    >>> from ketamine_sim.circuits.compounds import Drug
    >>> Drug("racemic", {"s_ketamine": 0.5, "r_ketamine": 0.5}).molar_mass
    237.73
    >>> Drug("bad", {"s_ketamine": 0.6})
    Traceback (most recent call last):
    ...
    ValueError: drug 'bad': species fractions sum to 0.6, not 1
    """

    name: str
    composition: dict[str, float]

    def __post_init__(self) -> None:
        unknown = set(self.composition) - set(SPECIES)
        if unknown:
            raise ValueError(f"drug {self.name!r}: unknown species {sorted(unknown)}; allowed: {list(SPECIES)}")
        total = sum(self.composition.values())
        if self.composition and abs(total - 1.0) > 1e-9:
            raise ValueError(f"drug {self.name!r}: species fractions sum to {total}, not 1")

    @property
    def molar_mass(self) -> float:
        """Mass-weighted molar mass of the preparation (g/mol); ketamine's for an empty vehicle."""
        if not self.composition:
            return MOLAR_MASS_G_PER_MOL["s_ketamine"]
        return sum(f * MOLAR_MASS_G_PER_MOL[s] for s, f in self.composition.items())


def ng_per_ml_to_uM(value_ng_per_ml, molar_mass_g_per_mol: float):
    """Convert a mass concentration (ng/mL) to a molar one (uM).

    Parameters
    ----------
    value_ng_per_ml : float or numpy.ndarray
        Mass concentration in ng/mL (= ug/L); an array is converted element-wise.
    molar_mass_g_per_mol : float
        Molar mass of the species in g/mol (`MOLAR_MASS_G_PER_MOL`, or a drug's
        [`Drug.molar_mass`][ketamine_sim.circuits.compounds.Drug.molar_mass]).

    Returns
    -------
    float or numpy.ndarray
        Molar concentration in uM, of the shape of `value_ng_per_ml`:
        c [uM] = c [ng/mL] / M [g/mol].

    See Also
    --------
    uM_to_ng_per_ml : The inverse conversion.

    Examples
    --------
    An anaesthetic serum level of S-ketamine, 2000 ng/mL, is about 8.4 uM:

    >>> from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL, ng_per_ml_to_uM
    >>> round(ng_per_ml_to_uM(2000.0, MOLAR_MASS_G_PER_MOL["s_ketamine"]), 2)
    8.41
    """
    return value_ng_per_ml / molar_mass_g_per_mol


def uM_to_ng_per_ml(value_uM, molar_mass_g_per_mol: float):
    """Convert a molar concentration (uM) to a mass concentration (ng/mL).

    Parameters
    ----------
    value_uM : float or numpy.ndarray
        Molar concentration in uM; an array is converted element-wise.
    molar_mass_g_per_mol : float
        Molar mass of the species in g/mol.

    Returns
    -------
    float or numpy.ndarray
        Mass concentration in ng/mL, of the shape of `value_uM`: c [ng/mL] = c [uM] M [g/mol].

    See Also
    --------
    ng_per_ml_to_uM : The inverse conversion.

    Examples
    --------
    >>> from ketamine_sim.circuits.compounds import MOLAR_MASS_G_PER_MOL, uM_to_ng_per_ml
    >>> round(uM_to_ng_per_ml(1.0, MOLAR_MASS_G_PER_MOL["hnk"]), 2)
    239.7
    """
    return value_uM * molar_mass_g_per_mol


#: Accepted spellings of concentration units and their factor to uM (molar units)
#: or to ng/mL (mass units, converted with the molar mass).
_MOLAR_TO_UM = {"M": 1e6, "mM": 1e3, "uM": 1.0, "µM": 1.0, "nM": 1e-3, "pM": 1e-6}
_MASS_TO_NG_PER_ML = {"ng/mL": 1.0, "ng/ml": 1.0, "ug/mL": 1e3, "ug/ml": 1e3, "mg/L": 1e3, "ug/L": 1.0, "mg/mL": 1e6}
CONCENTRATION_UNITS: tuple[str, ...] = tuple(_MOLAR_TO_UM) + tuple(_MASS_TO_NG_PER_ML)

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


def parse_concentration_uM(value, molar_mass_g_per_mol: float) -> float:
    """A concentration in uM from a number (taken as uM) or a string with a unit.

    Parameters
    ----------
    value : int, float or str
        A number (in uM) or a number followed by one of `CONCENTRATION_UNITS`
        (`"500 nM"`, `"0.5uM"`, `"120 ng/mL"`); a string without a unit is in uM.
    molar_mass_g_per_mol : float
        Molar mass in g/mol, used for mass units (ng/mL, ug/mL, mg/L, ...) only.

    Returns
    -------
    float
        The concentration in uM.

    Raises
    ------
    ValueError
        For a boolean, a string that is not a number with a unit, or an unknown unit (the
        message names the allowed units).

    Examples
    --------
    >>> from ketamine_sim.circuits.compounds import parse_concentration_uM
    >>> parse_concentration_uM("500 nM", 237.73)
    0.5
    >>> parse_concentration_uM(2, 237.73)
    2.0
    >>> round(parse_concentration_uM("120 ng/mL", 237.73), 4)
    0.5048
    >>> parse_concentration_uM("3 furlongs", 237.73)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unit 'furlongs' of '3 furlongs' is not a concentration unit; allowed: M, mM, uM, ...
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a concentration")
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a concentration; write a number in uM or e.g. '500 nM', '120 ng/mL'")
    number, unit = float(match.group(1)), (match.group(2) or "uM")
    if unit in _MOLAR_TO_UM:
        return number * _MOLAR_TO_UM[unit]
    if unit in _MASS_TO_NG_PER_ML:
        return ng_per_ml_to_uM(number * _MASS_TO_NG_PER_ML[unit], molar_mass_g_per_mol)
    raise ValueError(
        f"unit {unit!r} of {value!r} is not a concentration unit; allowed: {', '.join(CONCENTRATION_UNITS)}"
    )
