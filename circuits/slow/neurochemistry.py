"""Bulk extracellular glutamate and adenosine feedback on release: the slow layer's neurochemistry.

Both are relative to the drug-free baseline (1 = baseline) and live on the protocol
timeline; the spiking windows measure the release rate R of the pyramidal terminals
(spikes x released pool fraction), and each window is handed the release fraction U
that presynaptic A1 receptors allow at the adenosine level of its start time.

    tau_glu dG/dt = R / R_0 - G                                   bulk glutamate pool
    tau_ado dA/dt = 1 + gain * a * (G - 1) - A                    adenosine
    U(A) = U_0 (1 - i_max occ(A)) / (1 - i_max occ(1)),   occ(A) = A^n / (A^n + K^n)

`a` is the fraction of AMPA receptors available (1 - NBQX block): adenosine release
follows AMPA-receptor activation by the glutamate rise (Lazarevic 2021
[@lazarevic2021ketamine]: the fall in evoked release needs AMPA receptors and A1 receptors,
TARGETS A2). `tau_ado` is 10-30 min (Brambilla 2005 [@brambilla2005adenosine], A4). An A1 antagonist (DPCPX) sets occ = 0: the release
fraction is then U_0 / (1 - i_max occ(1)), higher than baseline by the tonic A1
inhibition. With ``glutamate_pool`` off, no bulk pool is tracked (G follows R / R_0 at
once) and with ``adenosine_feedback`` off A stays at 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class NeurochemistryParameters:
    """Constants and switches of the glutamate pool and the adenosine feedback; values in
    ``configs/config.yaml`` (``neurochemistry.*``) with their sources.

    Parameters
    ----------
    glutamate_pool : bool
        Track the bulk extracellular glutamate pool (switch).
    glutamate_tau_min : float
        Turnover time of the bulk pool in min, as microdialysis/MRS sees it (free parameter).
    adenosine_feedback : bool
        Adenosine rises with AMPA-driven glutamate and acts on A1 (switch).
    adenosine_tau_min : float
        Build-up time constant of adenosine in min (Brambilla 2005: 10-30 min, A4).
    adenosine_gain : float
        Relative adenosine rise per relative glutamate rise (dimensionless, free parameter).
    a1_max_inhibition : float
        Maximal A1 suppression of the release fraction (fraction, in [0, 1)).
    a1_half_effect : float
        Adenosine (relative to baseline) at half-maximal A1 occupancy.
    a1_hill : float
        Hill coefficient n of the A1 occupancy.

    Raises
    ------
    ValueError
        If a time constant, half-effect or Hill coefficient is not > 0, the gain is < 0 or
        the maximal inhibition is outside [0, 1).
    """

    glutamate_pool: bool  #: track the bulk extracellular glutamate pool (switch)
    glutamate_tau_min: float  #: turnover time of the bulk pool as microdialysis/MRS sees it (free parameter)
    adenosine_feedback: bool  #: adenosine rises with AMPA-driven glutamate and acts on A1 (switch)
    adenosine_tau_min: float  #: build-up time constant of adenosine (Brambilla 2005: 10-30 min, A4)
    adenosine_gain: float  #: relative adenosine rise per relative glutamate rise (free parameter)
    a1_max_inhibition: float  #: maximal A1 suppression of the release fraction (fraction)
    a1_half_effect: float  #: adenosine (relative to baseline) at half-maximal A1 occupancy
    a1_hill: float  #: Hill coefficient of A1 occupancy

    def __post_init__(self) -> None:
        for name in ("glutamate_tau_min", "adenosine_tau_min", "a1_half_effect", "a1_hill"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.adenosine_gain < 0:
            raise ValueError(f"adenosine_gain must be >= 0, got {self.adenosine_gain}")
        if not 0 <= self.a1_max_inhibition < 1:
            raise ValueError(f"a1_max_inhibition must be in [0, 1), got {self.a1_max_inhibition}")

    def a1_occupancy(self, adenosine: float) -> float:
        """A1 occupancy A^n / (A^n + K^n) (fraction) at `adenosine` (relative to baseline)."""
        a = max(adenosine, 0.0) ** self.a1_hill
        return a / (a + self.a1_half_effect**self.a1_hill)

    @property
    def tonic_inhibition(self) -> float:
        """Fraction of the release fraction suppressed by A1 at baseline adenosine."""
        return self.a1_max_inhibition * self.a1_occupancy(1.0)


def release_fraction(
    u_baseline: float, adenosine: float, params: NeurochemistryParameters, a1_antagonist: bool
) -> float:
    """U at a given adenosine level (relative to baseline), equal to `u_baseline` at baseline.

    Parameters
    ----------
    u_baseline : float
        Release fraction U_0 at baseline adenosine (dimensionless, in (0, 1]).
    adenosine : float
        Adenosine relative to baseline (1 = baseline); ignored when the feedback is off.
    params : NeurochemistryParameters
        A1 constants and switches.
    a1_antagonist : bool
        An A1 antagonist (DPCPX) is present: occupancy 0.

    Returns
    -------
    float
        Release fraction U (dimensionless, at most 1).

    Examples
    --------
    >>> from ketamine_sim.circuits.slow.neurochemistry import NeurochemistryParameters, release_fraction
    >>> params = NeurochemistryParameters(
    ...     glutamate_pool=True, glutamate_tau_min=10.0, adenosine_feedback=True, adenosine_tau_min=20.0,
    ...     adenosine_gain=1.0, a1_max_inhibition=0.5, a1_half_effect=1.0, a1_hill=1.0)
    >>> release_fraction(0.5, 1.0, params, a1_antagonist=False)
    0.5
    >>> round(release_fraction(0.5, 2.0, params, a1_antagonist=False), 3)
    0.444
    >>> round(release_fraction(0.5, 1.0, params, a1_antagonist=True), 3)
    0.667
    """
    occupancy = 0.0 if a1_antagonist else params.a1_occupancy(adenosine if params.adenosine_feedback else 1.0)
    return min(1.0, u_baseline * (1.0 - params.a1_max_inhibition * occupancy) / (1.0 - params.tonic_inhibition))


@dataclass
class Neurochemistry:
    """Slow state: bulk glutamate G and adenosine A, both relative to baseline."""

    glutamate: float = 1.0
    adenosine: float = 1.0

    def advance(
        self, release_relative: float, ampa_available: float, params: NeurochemistryParameters, h_s: float
    ) -> None:
        """Step `h_s` seconds with the release rate R / R_0 held (exponential Euler: the
        timeline's steps are short against both time constants).

        Parameters
        ----------
        release_relative : float
            Release rate R / R_0 of the pyramidal terminals relative to baseline.
        ampa_available : float
            Fraction of AMPA receptors available, a (1 - NBQX block).
        params : NeurochemistryParameters
            Time constants, gain and switches.
        h_s : float
            Step in s, >= 0.

        Raises
        ------
        ValueError
            If `h_s` < 0.
        """
        if h_s < 0:
            raise ValueError(f"step must be >= 0 s, got {h_s}")
        if params.glutamate_pool:
            decay = math.exp(-h_s / (60.0 * params.glutamate_tau_min))
            glutamate_mid = release_relative + (self.glutamate - release_relative) * math.sqrt(decay)
            self.glutamate = release_relative + (self.glutamate - release_relative) * decay
        else:
            glutamate_mid = self.glutamate = release_relative
        if params.adenosine_feedback:
            target = max(0.0, 1.0 + params.adenosine_gain * ampa_available * (glutamate_mid - 1.0))
            self.adenosine = target + (self.adenosine - target) * math.exp(-h_s / (60.0 * params.adenosine_tau_min))
