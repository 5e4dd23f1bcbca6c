"""The sample step corpus: KeeperHub layout, real pinned SDKs, production-style steps, and every step
compiles with the registry's shims (esbuild, npm packages kept external in node_modules)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from wfprof_pipeline.lib.corpus import discover
from wfprof_pipeline.lib.profiling.runner import compile_steps
from wfprof_pipeline.lib.registry import load_for_root

STEPS_ROOT = Path(__file__).resolve().parents[1] / "data" / "steps"
SDKS = {"@slack/web-api": "8.", "resend": "6.", "@sendgrid/mail": "8.", "ethers": "6.", "viem": "2."}


def test_layout_and_discovery() -> None:
    files = discover(STEPS_ROOT)
    assert len(files) >= 10
    assert all(f.language == "typescript" for f in files)
    assert all(re.fullmatch(r"plugins/[a-z0-9-]+/steps/[a-z0-9-]+\.ts", f.rel) for f in files)


def test_sdks_are_pinned_exactly_and_locked() -> None:
    pkg = json.loads((STEPS_ROOT / "package.json").read_text())
    lock = json.loads((STEPS_ROOT / "package-lock.json").read_text())
    for name, major in SDKS.items():
        version = pkg["dependencies"][name]
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be pinned exactly"
        assert version.startswith(major)
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


@pytest.mark.parametrize(
    ("step", "needle"),
    [
        ("webhook/steps/send-webhook.ts", "await fetch("),
        ("discord/steps/send-message.ts", "await fetch("),
        ("slack/steps/send-message.ts", 'from "@slack/web-api"'),
        ("resend/steps/send-email.ts", 'from "resend"'),
        ("sendgrid/steps/send-email.ts", 'from "@sendgrid/mail"'),
        ("web3/steps/check-balance.ts", "new ethers.JsonRpcProvider"),
        ("web3/steps/check-balance-viem.ts", "createPublicClient"),
        ("web3/steps/read-contract.ts", "new Contract("),
        ("web3/steps/transfer-funds.ts", "new ethers.Wallet"),
        ("math/steps/aggregate.ts", "function aggregate"),
        ("code/steps/run-code.ts", "vm.Script"),
    ],
)
def test_steps_are_written_like_production_steps(step: str, needle: str) -> None:
    text = (STEPS_ROOT / "plugins" / step).read_text()
    assert needle in text
    assert 'import "server-only";' in text  # KeeperHub-style imports that need the registry's shims
    assert 'from "@/lib/' in text
    assert "withStepLogging" in text  # logging
    assert "getErrorMessage" in text and "success: false" in text  # failures become results
    assert re.search(r"require\w+\(", text)  # input validation


def test_every_step_compiles_with_shims_and_external_packages(tmp_path: Path) -> None:
    registry = load_for_root(STEPS_ROOT)
    compiled, shim_dir = compile_steps(registry, registry.steps.values(), tmp_path)
    assert all(c.error is None for c in compiled.values()), {k: c.error for k, c in compiled.items() if c.error}
    slack = Path(compiled["plugins/slack/steps/send-message.ts"].compiled).read_text()
    # packages are imported from the corpus's node_modules, shims from their own compiled files ...
    assert re.search(r'from "file://[^"]*/data/steps/node_modules/@slack/web-api/', slack)
    assert f'import "file://{shim_dir}/shims/server-only.ts.mjs"' in slack
    # ... while code behind the @/ alias is compiled into the step (its own code)
    assert "function getErrorMessage(" in slack
    assert "withStepLogging(" in slack and "function withStepLogging(" not in slack
