"""The shape of a compiled lp_rpc.proto (fields, enums, services), as plain JSON-ready data.

Shared by the SDK side (tests/serve/sdk_client.py, run under the SDK's own Python) and ours, so
both are described by the same code. Imports nothing but the descriptor handed to it.
"""

from __future__ import annotations

from typing import Any


def _repeated(field: Any) -> bool:
    # protobuf >= 7 has is_repeated; older versions only the label (3 = repeated)
    return bool(field.is_repeated if hasattr(field, "is_repeated") else field.label == 3)


def describe(file_descriptor: Any) -> dict[str, Any]:
    """{"messages": {name: {field: [number, type, repeated, message type]} or enum values},
    "services": {name: {method: [input, output]}}} for one FileDescriptor."""
    out: dict[str, Any] = {}

    def walk(desc: Any) -> None:
        out[desc.full_name] = {
            f.name: [
                f.number,
                f.type,
                _repeated(f),
                f.message_type.full_name if f.message_type else "",
            ]
            for f in desc.fields
        }
        for e in desc.enum_types:
            out[e.full_name] = {v.name: v.number for v in e.values}
        for nested in desc.nested_types:
            walk(nested)

    for message in file_descriptor.message_types_by_name.values():
        walk(message)
    for enum in file_descriptor.enum_types_by_name.values():
        out[enum.full_name] = {v.name: v.number for v in enum.values}
    services = {
        s.full_name: {m.name: [m.input_type.full_name, m.output_type.full_name] for m in s.methods}
        for s in file_descriptor.services_by_name.values()
    }
    return {"messages": out, "services": services}
