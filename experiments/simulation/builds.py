"""The build cache of ``cpp_standalone``: one compiled binary per generated code.

A build lives in ``<cache>/<circuit name>-<key>/``, where the key hashes the generated source
files, the Brian2 version, the compiler flags (without the environment's include and library
paths) and the compiler with its ``-march=native`` target. Every environment and process that
would compile the same binary reuses that build; different code never shares a folder. A
build is compiled in a temporary folder and renamed into place after a completion marker (the
binary's size and SHA-256) was written, so a folder with that name is complete; one whose
binary does not match its marker is rebuilt.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from ketamine_sim.circuits.spiking.network import CircuitStructure
from ketamine_sim.experiments.files import as_new_folder

log = logging.getLogger(__name__)


#: The completion marker of a build, written last (before the folder is renamed into place).
BUILD_MARKER = "build_complete.json"
#: Files of a build folder that are not generated code: the makefiles (which hold the
#: environment's include and library paths) and what compiling adds.
_NOT_CODE = frozenset({"makefile", "win_makefile", "sourcefiles.txt", "make.deps", "main", BUILD_MARKER})


def safe_name(name: str) -> str:
    """``name`` as one harmless path component: letters, digits, ``_``, ``-``, ``.``; not
    starting with ``.``; at most 64 characters (``"circuit"`` if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).lstrip(".")[:64] or "circuit"


def _flags(makefile: str) -> list[str]:
    """The compiler and linker flags of a generated makefile without the environment's paths
    (``-I"..."``, ``-L"..."``, ``-R"..."``: the venv's include and library folders)."""
    flags = []
    for line in makefile.splitlines():
        name, _, value = line.partition("=")
        if name.strip() in ("OPTIMISATIONS", "CXXFLAGS", "LFLAGS"):
            flags += shlex.split(re.sub(r'-[ILR]\s*"[^"]*"', "", value))
    return flags


@functools.lru_cache(maxsize=8)
def _compiler_identity(compiler: str, flags: tuple[str, ...]) -> str:
    """What the compiler makes of ``flags`` (``-###``: version, target and the expanded
    ``-march=native``), so that a build is shared only by machines that compile it alike."""
    try:
        probe = subprocess.run(
            [compiler, "-###", *flags, "-x", "c++", "-c", os.devnull, "-o", os.devnull],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as error:
        from ketamine_sim.experiments.errors import ConfigError

        raise ConfigError(
            "backend.name",
            f"cannot run the C++ compiler {compiler!r} ({error}); install one (or set $CXX), "
            "or use backend=numpy, which needs none",
        ) from None
    text = probe.stdout + probe.stderr
    # the compiler's own temp files (-### quotes every argument: a folder may hold spaces)
    for folder in {tempfile.gettempdir(), os.environ.get("TMPDIR", "/tmp"), "/tmp"}:
        text = re.sub(re.escape(folder.rstrip("/")) + r"/[^'\"\n]+", "<temp>", text)
    return text


def build_key(directory: Path) -> str:
    """Hash of a generated (not yet compiled) project: every generated file but the makefiles
    (relative path and content), the Brian2 version, the compiler flags without paths and the
    compiler's identity. Equal keys compile to the same binary."""
    import brian2 as b2

    directory = Path(directory)
    digest = hashlib.sha256(f"brian2 {b2.__version__}\n".encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative in _NOT_CODE or relative.startswith("results/") or path.suffix == ".o":
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    flags = _flags((directory / "makefile").read_text()) if (directory / "makefile").exists() else []
    compile_flags = tuple(f for f in flags if f not in ("-c",) and not f.startswith(("-Wl,", "-I")))
    digest.update(json.dumps(flags).encode())
    digest.update(_compiler_identity(os.environ.get("CXX", "g++"), compile_flags).encode())
    return digest.hexdigest()[:20]


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def build_is_complete(directory: Path) -> bool:
    """Whether ``directory`` holds a finished build: its completion marker names the size and
    SHA-256 of an executable ``main`` that matches them."""
    binary = Path(directory) / "main"
    try:
        marker = json.loads((Path(directory) / BUILD_MARKER).read_text())
        return (
            binary.is_file()
            and binary.stat().st_size == marker["main_bytes"]
            and os.access(binary, os.X_OK)
            and _file_sha256(binary) == marker["main_sha256"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_marker(directory: Path) -> None:
    binary = directory / "main"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise RuntimeError(f"the compiler left no executable {binary}")
    with open(binary, "rb") as f:
        os.fsync(f.fileno())
    marker = {"main_bytes": binary.stat().st_size, "main_sha256": _file_sha256(binary)}
    with open(directory / BUILD_MARKER, "w") as f:
        json.dump(marker, f)
        f.flush()
        os.fsync(f.fileno())


def _remove(path: Path) -> None:
    """Move ``path`` aside (one rename) and delete it."""
    trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        path.rename(trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _interrupted(error: RuntimeError) -> bool:
    """Whether Brian2's "Project compilation failed (error code: N)" reports a ``make`` ended by
    SIGINT (Ctrl-C to the process group). Brian2 runs make through ``os.system``, which ignores
    SIGINT in this process while it waits, and reports the raw wait status: ``N & 0x7f`` is the
    signal that ended the shell."""
    match = re.search(r"compilation failed \(error code: (\d+)\)", str(error))
    return bool(match) and int(match.group(1)) & 0x7F == signal.SIGINT


def _compile(device, generated: Path, final: Path) -> None:
    """Compile the project generated in ``generated`` into ``final``: in a temporary folder
    beside it, then marker, then one rename (a killed build leaves no ``final``)."""
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    for prefix in (".building", ".trash"):  # left by killed earlier builds of this key (we hold its lock)
        for stale in final.parent.glob(f"{prefix}-{final.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    building = final.with_name(f".building-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copytree(generated, building)
        as_new_folder(building)  # mkdtemp made the generated folder private; a cache may be shared
        try:
            device.compile_source(str(building), get_compiler_and_args()[0], debug=False, clean=False)
        except RuntimeError as error:
            if _interrupted(error):
                raise KeyboardInterrupt("interrupted while compiling: no build was kept") from error
            raise
        _write_marker(building)
        if final.exists():  # an incomplete or damaged build of the same key
            _remove(final)
        os.rename(building, final)
    finally:
        shutil.rmtree(building, ignore_errors=True)


#: While another process holds a build's lock, a line is logged this often (s).
LOCK_WAIT_REPORT_S = 30.0


@contextlib.contextmanager
def _build_lock(path: str, circuit: str):
    """Hold the build's file lock; while another process compiles the same build, say so
    (at once, then every `LOCK_WAIT_REPORT_S`), so that a wait of minutes is not silent."""
    from filelock import FileLock, Timeout

    lock, waited = FileLock(path), 0.0
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("circuit %s: another process is compiling the same build; waiting for it (%s)", circuit, path)
        while True:
            try:
                lock.acquire(timeout=LOCK_WAIT_REPORT_S)
                break
            except Timeout:
                waited += LOCK_WAIT_REPORT_S
                log.info("circuit %s: still waiting for the other process's build (%.0f s)", circuit, waited)
    try:
        yield
    finally:
        lock.release()


#: Environment variable of a window's binary: the result files to write, comma-separated
#: (unset: every array, as Brian2 writes them). See `guard_result_writes`.
WRITE_ONLY_ENV = "KETAMINE_SIM_WRITE_ONLY"

_WRITE_GUARD = """
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
// ketamine-sim: write a result file only if $ENV_NAME names it (unset: write every file)
static bool _ketamine_sim_writes(const char* file)
{
    static const char* only = std::getenv("ENV_NAME");
    if (only == NULL) return true;
    static std::set<std::string> names;
    static bool parsed = false;
    if (!parsed)
    {
        std::stringstream in(only);
        std::string name;
        while (std::getline(in, name, ',')) names.insert(name);
        parsed = true;
    }
    return names.count(file) > 0;
}
""".replace("ENV_NAME", WRITE_ONLY_ENV)
#: One array's write in Brian2's ``_write_arrays`` (objects.cpp): open, write, close, or report.
_ARRAY_WRITE = re.compile(
    r"(?P<block>    ofstream (?P<stream>outfile_\w+);\n"
    r"    (?P=stream)\.open\(results_dir \+ \"(?P<file>[^\"]+)\", ios::binary \| ios::out\);\n"
    r".*?"
    r"    \} else\n    \{\n        std::cout << \"Error writing output file for [^\"]*\" << endl;\n    \}\n)",
    re.DOTALL,
)


def guard_result_writes(objects_cpp: str) -> str:
    r"""Brian2's ``objects.cpp`` with every array write of ``_write_arrays`` made conditional on
    `WRITE_ONLY_ENV`, so that a window's binary writes only the files its caller reads.

    Brian2's standalone binary writes every array at the end of a run, the synapse tables
    included: 40 MB in 203 files per ``pfc`` window, of which the direct runner reads the
    spikes, the state outputs, the spine flags and the field (11 MB in 65 files), and the
    synapse indices of the first window only. Unset, the binary writes everything (Brian2's own runs read through it);
    ``last_run_info.txt`` (and any file not of the array form, such as Brian2 2.10's spike
    queue and generator states) is always written. The arithmetic is untouched. Code without
    array writes of the known form (another Brian2's template) is returned unchanged, with a
    warning: the binary then writes everything, as before.

    Examples
    --------
    >>> code = (
    ...     "void _write_arrays()\n{\n"
    ...     "    ofstream outfile__array_a;\n"
    ...     '    outfile__array_a.open(results_dir + "_array_a_1", ios::binary | ios::out);\n'
    ...     "    if(outfile__array_a.is_open())\n    {\n        write;\n    } else\n    {\n"
    ...     '        std::cout << "Error writing output file for _array_a." << endl;\n    }\n}\n'
    ... )
    >>> guarded = guard_result_writes(code)
    >>> 'if (_ketamine_sim_writes("_array_a_1"))' in guarded, guarded.count("ofstream outfile__array_a;")
    (True, 1)
    """
    head, marker, body = objects_cpp.partition("void _write_arrays()")
    end = body.find("\n}\n") + 3
    writes, rest = body[:end], body[end:]
    guarded, count = _ARRAY_WRITE.subn(
        lambda m: f'    if (_ketamine_sim_writes("{m["file"]}"))\n    {{\n{m["block"]}    }}\n', writes
    )
    if not marker or end < 3 or count == 0:  # another Brian2's objects.cpp: it writes everything, as before
        log.warning("the generated objects.cpp has no array writes of the known form: every result is written")
        return objects_cpp
    return head + _WRITE_GUARD + marker + guarded + rest


def _cached_build(device, structure: CircuitStructure, cache: Path) -> tuple[Path, bool]:
    """The build folder of the project the device holds, and whether this call compiled it."""
    generated = Path(tempfile.mkdtemp(prefix="ketamine-sim-code-"))
    try:
        device.build(directory=str(generated), compile=False, run=False, with_output=False)
        objects = generated / "objects.cpp"
        objects.write_text(guard_result_writes(objects.read_text()))
        final = cache / f"{safe_name(structure.name)}-{build_key(generated)}"
        if build_is_complete(final):
            return final, False
        if not _writable(cache):
            from ketamine_sim.experiments.errors import ConfigError

            state = "an incomplete build" if final.exists() else "no build"
            raise ConfigError(
                "backend.cache_dir",
                f"the build cache {cache} is not writable and holds {state} of "
                f"circuit {structure.name!r} ({final.name}); choose a writable "
                "folder with backend.cache_dir=PATH (or $KETAMINE_SIM_CACHE)",
            )
        with _build_lock(str(final) + ".lock", structure.name):
            if build_is_complete(final):  # another process finished it while we waited
                return final, False
            log.info("compiling circuit %s into %s: once per generated code, about a minute", structure.name, final)
            _compile(device, generated, final)
            return final, True
    finally:
        shutil.rmtree(generated, ignore_errors=True)
