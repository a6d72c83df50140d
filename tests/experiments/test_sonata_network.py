"""A run's circuit as SONATA network files (ketamine_sim.experiments.export.to_sonata_network), read back
with the clients users have: libsonata (its circuit config, nodes, edges and indices) and
BMTK's SONATA reader. The run is a tiny circuit on Brian2's numpy runtime (no compiler); the
compiled engines return the same synapses (tests/experiments/test_direct_engine.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments import export
from ketamine_sim.experiments.api import compose_config, run
from ketamine_sim.experiments.results import read_results

TINY = [
    "experiment=bath",
    "circuit=small",
    "circuit.counts={pyr: 40, pv: 8, sst: 6}",
    "circuit.window_s=0.05",
    "circuit.transient_s=0.01",
    "backend=numpy",
    "output.figure=false",
]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A tiny bath run stored with its connectivity, and its circuit exported."""
    folder = tmp_path_factory.mktemp("run")
    run([*TINY, "output.connectivity=true"], folder / "bath")
    circuit = export.to_sonata_network(folder / "bath", folder / "circuit")
    return read_results(folder / "bath"), circuit


@pytest.mark.slow
def test_libsonata_reads_the_cells_and_every_synapse_with_its_weight_and_delay(stored):
    import libsonata

    data, config_path = stored
    cfg = compose_config(TINY)
    structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
    circuit = libsonata.CircuitConfig.from_file(str(config_path))
    assert circuit.node_populations == set(data.spikes) == {"pyr", "pv", "sst"}
    for pop, n in structure.counts.items():
        assert circuit.node_population(pop).size == n
        spiking = data.spikes[pop][1]
        assert spiking.size == 0 or spiking.max() < n  # the spike report's node ids are the nodes
    pathways = {f"{a}_to_{b}" for (a, b), p in structure.connection_probability.items() if p > 0}
    assert circuit.edge_populations == set(data.connectivity) == pathways
    for name in pathways:
        pre, _, post = name.partition("_to_")
        edges = circuit.edge_population(name)
        everything = libsonata.Selection([[0, edges.size]])
        stored_edges = data.connectivity[name]
        assert (edges.source, edges.target) == (pre, post) and edges.size == len(stored_edges["source_ids"])
        np.testing.assert_array_equal(edges.source_nodes(everything), stored_edges["source_ids"])
        np.testing.assert_array_equal(edges.target_nodes(everything), stored_edges["target_ids"])
        np.testing.assert_array_equal(edges.get_attribute("syn_weight", everything), stored_edges["weight_nS"])
        np.testing.assert_array_equal(edges.get_attribute("delay", everything), structure.synapses.delay_ms)
        # the indices: the synapses onto the first postsynaptic cell
        onto_first = edges.afferent_edges([0]).flatten()
        np.testing.assert_array_equal(onto_first, np.flatnonzero(stored_edges["target_ids"] == 0))
        if pre != "pyr":  # an interneuron's GABA_A step: its configured weight, scaled as the circuit scales it
            weight = drive.weight_nS[pre, post] * structure.weight_scale(pre)
            np.testing.assert_allclose(stored_edges["weight_nS"], weight)


@pytest.mark.slow
def test_the_pyramidal_synapses_are_as_many_as_the_connection_probability_gives(stored):
    data, _ = stored
    cfg = compose_config(TINY)
    structure, drive = C.circuit_structure(cfg), C.circuit_drive(cfg)
    ee = data.connectivity["pyr_to_pyr"]
    # every potential site exists with p / occupancy, and a share `spine_occupancy` of them is present
    pairs = structure.counts["pyr"] ** 2
    expected = structure.connection_probability["pyr", "pyr"] * pairs
    assert abs(len(ee["source_ids"]) - expected) < 5 * np.sqrt(expected)
    healthy = drive.weight_nS["pyr", "pyr"] * structure.weight_scale("pyr")
    assert np.all(ee["weight_nS"] > 0) and np.allclose(np.median(ee["weight_nS"]), healthy, rtol=0.5)


def test_the_pyramidal_synapses_are_the_spine_sites_present_with_each_target_cells_weight():
    """`connectivity_of` on a window's output: pyr->pyr keeps only the sites present, every
    other pathway every synapse; each weight is the target cell's ``w_from_<pre>`` in nS."""
    from ketamine_sim.experiments.simulation.timeline import connectivity_of
    from ketamine_sim.experiments.simulation.windows import WindowOutput

    sites = {"pre": np.array([0, 1, 2, 2]), "post": np.array([1, 0, 0, 2]), "spine": np.array([1, 0, 1, 1], bool)}
    edges = {"pv_to_pyr": {"pre": np.array([0, 1]), "post": np.array([2, 2])}}
    values = {"pyr": {"v": np.zeros(3), "w_from_pyr": np.array([1e-9, 2e-9, 3e-9]), "w_from_pv": 4e-9}}
    out = WindowOutput(spikes={}, state={}, wall_s=0.0, sites=sites, edges=edges)
    found = connectivity_of(out, values)
    np.testing.assert_array_equal(found["pyr_to_pyr"]["source_ids"], [0, 2, 2])
    np.testing.assert_array_equal(found["pyr_to_pyr"]["target_ids"], [1, 0, 2])
    np.testing.assert_allclose(found["pyr_to_pyr"]["weight_nS"], [2.0, 1.0, 3.0])
    np.testing.assert_allclose(found["pv_to_pyr"]["weight_nS"], [4.0, 4.0])
    assert connectivity_of(WindowOutput(spikes={}, state={}, wall_s=0.0, sites={"spine": sites["spine"]}), values) == {}


@pytest.mark.slow
def test_bmtk_reads_the_same_circuit(stored):
    from bmtk.utils.sonata import File

    data, config_path = stored
    network = config_path.parent / "network"
    net = File(
        data_files=[str(network / "nodes.h5"), str(network / "edges.h5")],
        data_type_files=[str(network / "node_types.csv"), str(network / "edge_types.csv")],
    )
    assert sorted(net.nodes.population_names) == ["pv", "pyr", "sst"]
    nodes = net.nodes["pyr"].to_dataframe()
    assert len(nodes) == 40 and set(nodes["model_type"]) == {"point_neuron"} and set(nodes["ei"]) == {"e"}
    for name, stored_edges in data.connectivity.items():
        table = net.edges[name].to_dataframe()
        np.testing.assert_array_equal(table["source_node_id"], stored_edges["source_ids"])
        np.testing.assert_array_equal(table["target_node_id"], stored_edges["target_ids"])
        np.testing.assert_array_equal(table["syn_weight"], stored_edges["weight_nS"])
        assert set(table["pathway"]) == {name}
    # BMTK's index: the synapses onto pyramidal cell 0
    onto_first = [edge.source_node_id for edge in net.edges["pv_to_pyr"].get_target(0)]
    pv_to_pyr = data.connectivity["pv_to_pyr"]
    assert sorted(onto_first) == sorted(pv_to_pyr["source_ids"][pv_to_pyr["target_ids"] == 0])


@pytest.mark.slow
def test_each_cell_types_constants_are_written_beside_the_network(stored):
    import json

    _, config_path = stored
    models = config_path.parent / "components" / "cell_models"
    structure = C.circuit_structure(compose_config(TINY))
    for pop in ("pyr", "pv", "sst"):
        constants = json.loads((models / f"{pop}.json").read_text())
        assert constants["v_th_mV"] == structure.cells[pop].v_th_mV and constants["c_m_nF"] > 0


def test_a_run_without_its_connectivity_is_refused_naming_the_option(tmp_path):
    from helpers.fake_engine import fake_run

    folder = fake_run(tmp_path / "run", ["experiment=bath"])
    with pytest.raises(ValueError, match=r"output.connectivity=true"):
        export.to_sonata_network(folder, tmp_path / "circuit")
    assert not (tmp_path / "circuit").exists()


@pytest.mark.slow
def test_an_existing_folder_is_refused_and_a_failed_export_leaves_nothing(stored, tmp_path, monkeypatch):
    data, config_path = stored
    run_folder = config_path.parent.parent / "bath"
    with pytest.raises(FileExistsError, match="exists"):
        export.to_sonata_network(run_folder, config_path.parent)

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(export, "_sonata_edges", broken)
    with pytest.raises(OSError, match="disk full"):
        export.to_sonata_network(run_folder, tmp_path / "circuit")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary twin


def test_output_connectivity_is_a_flag():
    from ketamine_sim.experiments.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^output.connectivity: "):
        C.validate(compose_config(["output.connectivity=3"]))


def test_a_compiled_run_stores_its_circuit_and_exports_it(ketamine_sim, tmp_path):
    """The command line on the compiled circuit (the shared build: the cached binary, run
    directly): the synapses of circuit=small, every one onto a cell of its population."""
    import libsonata

    cli = ketamine_sim(
        "experiment=bath",
        "circuit=small",
        "bath.concentrations_uM=[0]",
        "output.figure=false",
        "output.connectivity=true",
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    data = read_results(cli.run_dir)
    structure = C.circuit_structure(compose_config(["circuit=small"]))
    circuit = libsonata.CircuitConfig.from_file(str(export.to_sonata_network(cli.run_dir, tmp_path / "circuit")))
    for name, synapses in data.connectivity.items():
        pre, _, post = name.partition("_to_")
        expected = structure.connection_probability[pre, post] * structure.counts[pre] * structure.counts[post]
        assert abs(len(synapses["source_ids"]) - expected) < 5 * np.sqrt(expected), name
        assert (
            synapses["source_ids"].max() < structure.counts[pre]
            and synapses["target_ids"].max() < structure.counts[post]
        )
        assert circuit.edge_population(name).size == len(synapses["source_ids"])


def test_the_connectivity_is_written_and_read_back_and_checked(tmp_path):
    import h5py
    from helpers.results_data import make_data

    from ketamine_sim.experiments.results import ResultsFileError, write_results

    data = make_data()
    data.connectivity = {
        "pv_to_pyr": {"source_ids": np.array([0, 1]), "target_ids": np.array([3, 3]), "weight_nS": np.array([1.5, 1.5])}
    }
    path = write_results(tmp_path / "results.h5", data)
    back = read_results(path).connectivity["pv_to_pyr"]
    np.testing.assert_array_equal(back["source_ids"], [0, 1])
    np.testing.assert_array_equal(back["weight_nS"], [1.5, 1.5])
    with h5py.File(path, "r") as f:
        assert f["connectivity/pv_to_pyr/weight"].attrs["units"] == "nS"
    data.connectivity["pv_to_pyr"]["weight_nS"] = np.array([1.5])
    with pytest.raises(ValueError, match="connectivity/pv_to_pyr"):
        write_results(tmp_path / "bad.h5", data)
    with h5py.File(path, "r+") as f:  # a damaged file: lengths that disagree
        del f["connectivity/pv_to_pyr/weight"]
        f["connectivity/pv_to_pyr/weight"] = np.array([1.0])
    with pytest.raises(ResultsFileError, match="differ in length"):
        read_results(path)
