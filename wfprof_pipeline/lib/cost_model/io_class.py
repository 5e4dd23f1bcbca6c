"""Which I/O class a step's requests belong to: declared in the registry, or inferred from its requests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wfprof_pipeline.lib.cost_model.policy import IO_CLASSES, IoClass

# JSON-RPC methods that change chain state or sign (anything else a step calls over JSON-RPC is a read).
JSON_RPC_WRITE_METHODS = frozenset(
    {
        "eth_sendRawTransaction",
        "eth_sendTransaction",
        "eth_signTransaction",
        "eth_sign",
        "personal_sign",
        "eth_signTypedData",
        "eth_signTypedData_v3",
        "eth_signTypedData_v4",
        "wallet_sendCalls",
        "eth_sendUserOperation",
    }
)


@dataclass(frozen=True)
class IoClassChoice:
    io_class: IoClass | None  # None: the declared class is not one the policy knows
    source: str  # declared | json_rpc | requests | no_requests | invalid_declared
    note: str | None = None


def infer_from_requests(
    rpc_methods: Iterable[str] | None, io_operations: float | None
) -> tuple[IoClass, str]:
    methods = set(rpc_methods or ())
    if methods:
        return ("chain_write" if methods & JSON_RPC_WRITE_METHODS else "chain_read"), "json_rpc"
    if io_operations:
        return "http", "requests"
    return "none", "no_requests"


def choose_io_class(
    declared: str | None, rpc_methods: Iterable[str] | None, io_operations: float | None
) -> IoClassChoice:
    """The registry's declaration wins (it can say `chat`, which requests alone cannot tell from http);
    a declaration that contradicts the JSON-RPC methods seen is kept but noted."""
    inferred, how = infer_from_requests(rpc_methods, io_operations)
    if declared is None or not declared.strip():
        return IoClassChoice(inferred, how)
    declared = declared.strip()
    if declared not in IO_CLASSES:
        return IoClassChoice(
            None,
            "invalid_declared",
            f"registry declares io_class {declared!r}; known classes: {', '.join(IO_CLASSES)}",
        )
    note = None
    if how == "json_rpc" and declared != inferred:
        note = f"declared {declared}, but the JSON-RPC methods seen say {inferred}"
    return IoClassChoice(declared, "declared", note)  # type: ignore[arg-type]
