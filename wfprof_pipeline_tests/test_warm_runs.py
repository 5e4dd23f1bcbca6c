"""Cost per execution as production pays it: warm executions in the same process, the cold one, the shared
platform import measured alone, and the history of prices. Real Node processes on the sample corpus and on
the miniature platform checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfprof_pipeline.cli import main
from wfprof_pipeline.lib.profiling.platform import PLATFORM_ID, profile_platform, shared_modules
from wfprof_pipeline.lib.profiling.runner import ProfileOptions, ProfilingError, profile_steps
from wfprof_pipeline.lib.profiling.summary import summarize
from wfprof_pipeline.lib.registry import RegistryError, build_registry, load_for_root
from wfprof_pipeline_tests.platform_fixture import platform_copy

STEPS_ROOT = Path(__file__).resolve().parents[1] / "data" / "steps"


@pytest.fixture(scope="module")
def raw_runs():
    registry = load_for_root(STEPS_ROOT)
    return profile_steps(registry, None, ProfileOptions(modes=("precise",), repeat=3, warm_runs=4, timeout_s=60))


@pytest.fixture(scope="module")
def three_processes(raw_runs):
    registry = load_for_root(STEPS_ROOT)
    return summarize(raw_runs), profile_steps(
        registry, ["web3/check-balance"], ProfileOptions(modes=("precise",), repeat=1, warm_runs=4))


def _rows(summary, phase: str) -> dict[str, object]:
    return {r.step_id: r for r in summary.profiles if r.mode == "precise" and r.phase == phase}


def test_warm_counts_are_identical_across_fresh_processes(raw_runs, three_processes) -> None:
    summary, _ = three_processes
    warm = _rows(summary, "execute_warm")
    assert set(warm) == set(load_for_root(STEPS_ROOT).ids)  # every sample step has a warm phase
    per_process: dict[str, set[tuple]] = {}
    for r in raw_runs:
        assert r.error is None, (r.step_id, r.error)
        phase = r.outcome.phases["execute_warm"]
        # each process's sequence of warm executions, own + packages: the same in all three
        per_process.setdefault(r.step_id, set()).add(tuple(phase.runs_own_packages))
    # ethers' JsonRpcProvider works on timers (10 ms request batching, network detection), so on a loaded
    # machine its warm executions can take another path: then the row says so and keeps both counts.
    # Every other step is exact.
    ethers = {"web3/check-balance", "web3/read-contract", "web3/transfer-funds"}
    for step in ethers:
        seqs = per_process.pop(step)
        values = {v for seq in seqs for v in seq}
        if len(values) > 1:
            row = warm[step]
            assert row.deterministic is False, (step, seqs)
            assert (row.calls_own_packages_min, row.calls_own_packages_max) == (min(values), max(values))
    assert {s: len(seqs) for s, seqs in per_process.items()} == {s: 1 for s in per_process}, per_process
    assert all(row.runs == 3 and row.warm_runs == 4 for row in warm.values())


def test_lazy_initialisation_makes_the_cold_execution_dearer(three_processes) -> None:
    summary, single = three_processes
    cold, warm = _rows(summary, "execute"), _rows(summary, "execute_warm")
    # ethers' provider builds its network and ABI coder state on first use
    own_pkg = lambda r: r.calls_own + r.calls_packages  # noqa: E731
    assert own_pkg(cold["web3/check-balance"]) > own_pkg(warm["web3/check-balance"])
    # the Wallet precomputes secp256k1 tables once per process
    assert own_pkg(cold["web3/transfer-funds"]) > 4 * own_pkg(warm["web3/transfer-funds"])
    # and each warm execution is measured on its own: the first warm run still pays a little lazy init
    runs = single[0].outcome.phases["execute_warm"].runs_own_packages
    assert len(runs) == 4 and runs[0] > runs[-1] and len(set(runs[1:])) == 1


def test_a_step_whose_warm_runs_differ_is_flagged_and_keeps_both_counts(three_processes) -> None:
    summary, _ = three_processes
    row = _rows(summary, "execute_warm")["web3/check-balance"]
    assert row.deterministic is False
    assert row.calls_own_packages_min < row.calls_own_packages_max
    assert row.calls_own_packages_min <= row.calls_own + row.calls_packages <= row.calls_own_packages_max


def test_a_step_that_fails_only_on_its_second_run(tmp_path: Path) -> None:
    steps = tmp_path / "plugins" / "flaky" / "steps"
    steps.mkdir(parents=True)
    (steps / "once.mjs").write_text("let n = 0;\nexport async function onceStep() {\n"
                                    "  n += 1; if (n === 2) throw new Error('second call broke');\n"
                                    "  return { success: true, n };\n}\n")
    (tmp_path / "registry.toml").write_text('[steps."flaky/once"]\ninput = {}\n')
    (result,) = profile_steps(load_for_root(tmp_path), None, ProfileOptions(modes=("precise",), repeat=1))
    assert result.error_kind == "warm_failed"
    assert "warm execution 1 of 5 failed (the cold one succeeded)" in result.error and "second call" in result.error
    assert set(result.outcome.phases) == {"import", "execute"}  # the cold measurements are kept


def test_warm_runs_zero_means_no_warm_phase_and_negative_is_an_error(tmp_path: Path, capsys) -> None:
    (result,) = profile_steps(load_for_root(STEPS_ROOT), ["math/aggregate"],
                              ProfileOptions(modes=("precise",), repeat=1, warm_runs=0))
    assert set(result.outcome.phases) == {"import", "execute"}
    with pytest.raises(ProfilingError, match="warm runs must be 0"):
        profile_steps(load_for_root(STEPS_ROOT), ["math/aggregate"], ProfileOptions(warm_runs=-1))
    assert main(["profile", "--step", "math/aggregate", "--warm-runs", "-2"]) == 2
    assert "--warm-runs must be 0 (no warm phase) or more" in capsys.readouterr().err
    root = platform_copy(tmp_path / "p")
    (root / "registry.toml").write_text('[steps."tally/score-batch"]\nwarm_runs = -1\n')
    with pytest.raises(RegistryError, match="warm_runs"):
        build_registry(root, root / "registry.toml")


def test_the_json_keeps_the_seeds_total_and_adds_the_warm_phase(capsys) -> None:
    assert main(["profile", "--step", "webhook/send-webhook", "--precise", "--json", "--warm-runs", "3"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    phases = doc["phases"]
    assert doc["totalCalls"] == phases["import"]["totalCalls"] + phases["execute"]["totalCalls"]
    assert phases["execute_warm"]["warmRuns"] == 3 and phases["execute_warm"]["cpuMs"] is not None


def _own_packages(results, phase: str) -> float:
    (r,) = [r for r in results if r.mode == "precise"]
    calls = r.outcome.phases[phase].calls
    return calls.step + calls.package


def test_the_platform_baseline_is_subtracted_exactly(tmp_path: Path) -> None:
    """A shared module of known cost: 10,000 more calls at import in the baseline and in every step, none in
    any step's marginal import."""
    options = ProfileOptions(modes=("precise",), repeat=1)

    def measure(root: Path) -> tuple[list[str], float, float]:
        registry = load_for_root(root)
        modules = shared_modules(registry)
        baseline = profile_platform(registry, modules, options)
        step = profile_steps(registry, ["tally/score-batch"], options)
        return modules, _own_packages(baseline, "import"), _own_packages(step, "import")

    plain = platform_copy(tmp_path / "plain")
    heavy = platform_copy(tmp_path / "heavy")
    utils = heavy / "lib" / "utils.ts"
    utils.write_text(utils.read_text() + "\nfunction tick(): void {}\nfor (let i = 0; i < 10_000; i += 1) tick();\n")
    modules, base_plain, step_plain = measure(plain)
    assert modules == ["@/lib/steps/step-handler", "@/lib/utils", "server-only"]  # what every step imports
    _, base_heavy, step_heavy = measure(heavy)
    assert base_heavy - base_plain == 10_000 and step_heavy - step_plain == 10_000
    assert step_heavy - base_heavy == step_plain - base_plain  # the marginal import does not move


def test_the_registry_can_name_the_platform_modules(tmp_path: Path) -> None:
    root = platform_copy(tmp_path / "p")
    (root / "registry.toml").write_text('[platform]\nmodules = ["@/lib/db"]\n')
    registry = load_for_root(root)
    assert shared_modules(registry) == ["@/lib/db"]
    (result,) = profile_platform(registry, ["@/lib/db"], ProfileOptions(modes=("precise",), repeat=1))
    assert result.step_id == PLATFORM_ID and result.error is None
    assert result.outcome.phases["import"].packages.get("pg", 0) > 0  # the database driver, loaded alone
    (root / "registry.toml").write_text('[platform]\nmodules = "@/lib/db"\n')
    with pytest.raises(RegistryError, match=r"\[platform\] takes only `modules`"):
        load_for_root(root)
