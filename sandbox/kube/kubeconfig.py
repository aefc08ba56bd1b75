"""Kubeconfig files pointing kubectl and kubernetes-asyncio at an emulator."""

from __future__ import annotations

import os
from pathlib import Path

import yaml


def kubeconfig_dict(url: str, token: str, context: str = "sandbox",
                    namespace: str = "mcp-production", ca_data: str | None = None) -> dict:
    cluster: dict = {"server": url}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    elif url.startswith("https:"):
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": f"{context}-user", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-user",
                                                    "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: str | os.PathLike, url: str, token: str, context: str = "sandbox",
                     namespace: str = "mcp-production", ca_data: str | None = None) -> Path:
    """Write a kubeconfig (mode 0600: it holds a bearer token) and return its path.
    ``ca_data`` (base64 PEM) is the emulator's certificate for an https URL. Note kubectl
    sends the token over https only: an http URL works for kubernetes-asyncio, not kubectl."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig_dict(url, token, context, namespace, ca_data), sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path
