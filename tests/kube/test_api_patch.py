"""The patch formats and selectors as pure functions: strategic merge keys and directives,
RFC 7386 merge patch, RFC 6902 JSON patch, label and field selector grammar."""

from __future__ import annotations

import pytest

from sandbox.kube.patch import json_patch, merge_patch, strategic_merge
from sandbox.kube.selectors import Filter, parse_label_selector
from sandbox.kube.store import ApiError

POD_SPEC = {
    "spec": {
        "containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 8080, "protocol": "TCP"}]},
            {"name": "sidecar", "image": "side:1"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "a"}],
    },
    "metadata": {"finalizers": ["x"], "labels": {"app": "mcp"}},
}


def test_containers_merge_by_name_and_keep_the_others():
    out = strategic_merge(POD_SPEC, {"spec": {"containers": [{"name": "app", "image": "app:2"}]}})
    app, side = out["spec"]["containers"]
    assert (app["image"], side["image"]) == ("app:2", "side:1")
    assert app["env"] == POD_SPEC["spec"]["containers"][0]["env"]


def test_nested_lists_merge_by_their_own_keys():
    patch = {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "20"},
                                                               {"name": "C", "value": "3"}],
                                      "ports": [{"containerPort": 9090}]}]}}
    app = strategic_merge(POD_SPEC, patch)["spec"]["containers"][0]
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]
    assert [p["containerPort"] for p in app["ports"]] == [8080, 9090]


def test_service_ports_merge_by_port():
    svc = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    out = strategic_merge(svc, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}})
    assert out["spec"]["ports"][1] == {"port": 443, "name": "https", "targetPort": 8443}


def test_lists_without_a_merge_key_are_replaced():
    out = strategic_merge(POD_SPEC, {"spec": {"tolerations": [{"key": "b"}]}})
    assert out["spec"]["tolerations"] == [{"key": "b"}]
    hpa = {"spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu"}},
                                {"type": "Resource", "resource": {"name": "memory"}}]}}
    out = strategic_merge(hpa, {"spec": {"metrics": [{"type": "Pods"}]}})
    assert out["spec"]["metrics"] == [{"type": "Pods"}]


def test_finalizers_are_a_merged_primitive_list():
    out = strategic_merge(POD_SPEC, {"metadata": {"finalizers": ["y", "x"]}})
    assert out["metadata"]["finalizers"] == ["x", "y"]


def test_patch_delete_directive_in_a_list_and_in_a_map():
    out = strategic_merge(POD_SPEC, {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}],
                                              "volumes": [{"name": "data", "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["app"]
    assert out["spec"]["volumes"] == []
    out = strategic_merge(POD_SPEC, {"metadata": {"labels": {"$patch": "delete"}}})
    assert "labels" not in out["metadata"]


def test_patch_replace_directive():
    out = strategic_merge(POD_SPEC, {"metadata": {"labels": {"$patch": "replace", "tier": "web"}}})
    assert out["metadata"]["labels"] == {"tier": "web"}
    out = strategic_merge(POD_SPEC, {"spec": {"containers": [{"name": "only", "image": "o:1"},
                                                             {"$patch": "replace"}]}})
    assert out["spec"]["containers"] == [{"name": "only", "image": "o:1"}]


def test_set_element_order_reorders_the_merged_list():
    patch = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                      "containers": [{"name": "app", "image": "app:3"}]}}
    out = strategic_merge(POD_SPEC, patch)
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("sidecar", "side:1"), ("app", "app:3")]


def test_retain_keys_and_delete_from_primitive_list():
    strategy = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}}
    out = strategic_merge(strategy, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    out = strategic_merge(POD_SPEC, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}})
    assert out["metadata"]["finalizers"] == []


def test_null_deletes_a_key_and_the_original_is_untouched():
    out = strategic_merge(POD_SPEC, {"metadata": {"labels": None}})
    assert "labels" not in out["metadata"] and POD_SPEC["metadata"]["labels"] == {"app": "mcp"}


def test_merge_patch_replaces_lists_whole():
    out = merge_patch(POD_SPEC, {"spec": {"containers": [{"name": "app"}]}, "metadata": {"labels": None}})
    assert out["spec"]["containers"] == [{"name": "app"}] and "labels" not in out["metadata"]


def test_json_patch_operations():
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = json_patch(doc, [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "replace", "path": "/c", "value": "y"},
        {"op": "copy", "from": "/c", "path": "/d"},
        {"op": "move", "from": "/d", "path": "/e~1f"},
        {"op": "remove", "path": "/a/b/0"},
        {"op": "test", "path": "/a/b", "value": [2, 3]},
    ])
    assert out == {"a": {"b": [2, 3]}, "c": "y", "e/f": "y"}
    with pytest.raises(ApiError) as err:
        json_patch(doc, [{"op": "test", "path": "/c", "value": "nope"}])
    assert err.value.code == 422
    with pytest.raises(ApiError) as err:
        json_patch(doc, [{"op": "replace", "path": "/missing", "value": 1}])
    assert err.value.code == 422


@pytest.mark.parametrize("selector, expected", [
    ("app=mcp", True), ("app==mcp", True), ("app!=mcp", False), ("app in (x,mcp)", True),
    ("app notin (mcp)", False), ("tier", False), ("!tier", True), ("app,!tier", True),
    ("app=mcp,tier=web", False), ("tier notin (web)", True),
])
def test_label_selector_grammar(selector, expected):
    flt = Filter(selector, None, "pods")
    assert flt({"metadata": {"labels": {"app": "mcp"}}}) is expected


def test_field_selectors_for_pods_and_events():
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "node-1"},
           "status": {"phase": "Running"}}
    assert Filter(None, "spec.nodeName=node-1,status.phase!=Failed", "pods")(pod)
    assert not Filter(None, "metadata.name=q", "pods")(pod)
    event = {"involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"}, "type": "Warning",
             "reason": "BackOff", "metadata": {"name": "e", "namespace": "ns"}}
    assert Filter(None, "involvedObject.name=p,involvedObject.kind=Pod,type=Warning", "events")(event)
    with pytest.raises(ApiError) as err:
        Filter(None, "spec.nodeName=x", "deployments.apps")
    assert err.value.code == 400


def test_malformed_label_selector_is_400():
    with pytest.raises(ApiError) as err:
        parse_label_selector("app in mcp")
    assert err.value.code == 400
