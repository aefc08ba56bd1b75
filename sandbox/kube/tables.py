"""Server-side printing: ``meta.k8s.io/v1`` Table objects, as ``kubectl get`` asks for.

kubectl has no printers of its own for API objects any more: without a Table it prints
only NAME and AGE. So the columns a real apiserver prints for pods, deployments, nodes,
HPAs, events... are rebuilt here from the objects (ages from the cluster clock, so that a
sped-up clock shows sped-up ages). Cells are computed by :mod:`columns`.
"""

from __future__ import annotations

from typing import Any

from . import columns as c
from .resources import ResourceType

Obj = dict[str, Any]

TABLE_MEDIA = "as=Table"


def wants_table(accept: str) -> bool:
    return any(
        TABLE_MEDIA in part and "g=meta.k8s.io" in part for part in (accept or "").split(",")
    )


def _definition(col: c.Column) -> dict:
    return {
        "name": col.name,
        "type": col.type,
        "format": "name" if col.name == "Name" else "",
        "description": col.description,
        "priority": col.priority,
    }


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(rt: ResourceType, objects: list[Obj], now: float, list_meta: Obj,
          include: str = "Metadata", with_definitions: bool = True) -> Obj:
    columns = c.columns_for(rt)
    rows = []
    for obj in objects:
        row: Obj = {"cells": [col.cell(obj, now) for col in columns]}
        partial = _row_object(obj, include)
        if partial is not None:
            row["object"] = partial
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [_definition(col) for col in columns] if with_definitions else [],
        "rows": rows,
    }
