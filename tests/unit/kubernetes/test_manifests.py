"""Rendered Kubernetes manifests: schemas, hardening, serving config, ports, policies.

Every overlay is rendered with ``kubectl kustomize`` and checked by
deploy/validate_manifests.py; the mutation tests feed the same checks
broken objects to show that each one can fail.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from serving import config as C

ROOT = Path(__file__).resolve().parents[3]
OVERLAYS = ("overlays/dev", "overlays/prod")
ALL = ("base",) + OVERLAYS
POD_OBJECTS = ("Deployment/tf-serving", "Deployment/tensorboard", "Job/pipeline-run")


def get(objs, ref: str) -> dict:
    kind, name = ref.split("/")
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{ref}: found {len(found)}"
    return found[0]


def container(obj, name=None) -> dict:
    spec = obj["spec"]["template"]["spec"]
    return spec["containers"][0] if name is None else \
        next(c for c in spec["containers"] if c["name"] == name)


def lock_pin(package: str) -> str:
    text = (ROOT / "requirements/lock-py310-linux.txt").read_text()
    return re.search(rf"^{re.escape(package)}==(\S+)", text, re.M).group(1)


# ------------------------------------------------------------ render + schemas
def test_pinned_kubernetes_version_is_bundled_by_kubernetes_validate(vm):
    from kubernetes_validate import utils

    minor = ".".join(vm.KUBERNETES_VERSION.split(".")[:2])
    assert any(v.startswith(minor + ".") for v in utils.all_versions())


def test_overlays_listed_are_the_overlay_directories(vm):
    on_disk = sorted(f"overlays/{p.name}" for p in (ROOT / "kubernetes/overlays").iterdir()
                     if (p / "kustomization.yaml").exists())
    assert sorted(vm.OVERLAYS) == on_disk == sorted(OVERLAYS)


@pytest.mark.parametrize("overlay", ALL)
def test_renders_and_validates_against_pinned_api_schemas(vm, rendered, overlay):
    objs = rendered(overlay)
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "Deployment", "Service", "Job", "NetworkPolicy",
            "PodDisruptionBudget", "ConfigMap"} <= kinds
    assert vm.schema_errors(objs) == []


@pytest.mark.parametrize("overlay", ALL)
def test_all_checks_pass(vm, rendered, overlay):
    assert vm.check_objects(rendered(overlay)) == []


def test_cli_checks_every_overlay(vm, capsys):
    assert vm.main([]) == 0
    out = capsys.readouterr().out
    assert all(f"{o}: OK" in out for o in OVERLAYS)


def test_schema_validation_rejects_unknown_and_mistyped_fields(vm, rendered):
    objs = rendered("overlays/dev")
    dep = get(objs, "Deployment/tf-serving")
    container(dep)["securityContext"]["readOnlyRootFileSystem"] = True  # typo'd field
    pdb = get(objs, "PodDisruptionBudget/tf-serving")
    pdb["spec"]["maxUnavailable"] = [1]
    errors = vm.schema_errors([dep, pdb])
    assert len(errors) == 2, errors
    assert "readOnlyRootFileSystem" in errors[0] and "PodDisruptionBudget" in errors[1]


# -------------------------------------------------------------------- hardening
def _pod_spec(obj):
    return obj["spec"]["template"]["spec"]


MUTATIONS = {
    "runAsNonRoot": lambda o: _pod_spec(o)["securityContext"].pop("runAsNonRoot") and
    [c["securityContext"].pop("runAsNonRoot", None) for c in _pod_spec(o)["containers"]],
    "runAsUser": lambda o: _pod_spec(o)["securityContext"].update(runAsUser=0),
    "numeric non-root user": lambda o: _pod_spec(o)["securityContext"].update(runAsUser="app"),
    "seccompProfile": lambda o: _pod_spec(o)["securityContext"].pop("seccompProfile"),
    "allowPrivilegeEscalation": lambda o: container(o)["securityContext"].pop(
        "allowPrivilegeEscalation"),
    "capabilities.drop": lambda o: container(o)["securityContext"]["capabilities"].update(
        drop=["NET_RAW"]),
    "capabilities.add": lambda o: container(o)["securityContext"]["capabilities"].update(
        add=["NET_ADMIN"]),
    "readOnlyRootFilesystem": lambda o: container(o)["securityContext"].update(
        readOnlyRootFilesystem=False),
    "privileged": lambda o: container(o)["securityContext"].update(privileged=True),
    "automountServiceAccountToken": lambda o: _pod_spec(o).pop("automountServiceAccountToken"),
    "hostNetwork": lambda o: _pod_spec(o).update(hostNetwork=True),
    "not allowed by the restricted profile": lambda o: _pod_spec(o)["volumes"].append(
        {"name": "host", "hostPath": {"path": "/"}}),
    "needs a sizeLimit": lambda o: next(
        v for v in _pod_spec(o)["volumes"] if "emptyDir" in v)["emptyDir"].pop("sizeLimit"),
    "resources.limits.memory": lambda o: container(o)["resources"]["limits"].pop("memory"),
    "writable mount": lambda o: (
        _pod_spec(o)["volumes"].append({"name": "cfg", "configMap": {"name": "x"}}),
        container(o)["volumeMounts"].append({"name": "cfg", "mountPath": "/cfg"})),
}


@pytest.mark.parametrize("ref", POD_OBJECTS)
@pytest.mark.parametrize("expected", sorted(MUTATIONS))
def test_hardening_check_catches_each_weakening(vm, rendered, ref, expected):
    obj = get(rendered("overlays/dev"), ref)
    assert vm.hardening_violations(obj) == []
    MUTATIONS[expected](obj)
    problems = vm.hardening_violations(obj)
    assert problems and all(ref in p for p in problems)
    assert any(expected in p for p in problems), problems


def test_hardening_check_covers_cronjob_and_init_containers(vm, rendered):
    cron = get(rendered("overlays/prod"), "CronJob/pipeline-schedule")
    assert vm.hardening_violations(cron) == []
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    spec["initContainers"] = [{"name": "init", "image": "busybox:1.36"}]
    problems = vm.hardening_violations(cron)
    assert any("'init'" in p and "allowPrivilegeEscalation" in p for p in problems)


def test_removing_a_field_from_the_sources_fails_the_check(vm, tmp_path):
    """End to end on files: drop one line from a base manifest, render, check."""
    copy = tmp_path / "kubernetes"
    shutil.copytree(ROOT / "kubernetes", copy, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = copy / "base/tensorboard/deployment.yaml"
    text = manifest.read_text()
    assert text.count("allowPrivilegeEscalation: false") == 1
    manifest.write_text(re.sub(r"\n *allowPrivilegeEscalation: false", "", text))
    problems = vm.check_objects(vm.render(copy / "overlays/prod"))
    assert problems == ["Deployment/tensorboard container 'tensorboard': "
                        "allowPrivilegeEscalation must be false"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_namespace_enforces_restricted_at_validated_version(vm, rendered, overlay):
    objs = rendered(overlay)
    labels = get(objs, "Namespace/tfx-gan")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    ns = get(objs, "Namespace/tfx-gan")
    ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
    ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"] = "latest"
    assert len(vm.namespace_violations(objs)) == 2


def test_every_object_lives_in_the_namespace(vm, rendered):
    objs = rendered("overlays/prod")
    del get(objs, "HorizontalPodAutoscaler/tf-serving")["metadata"]["namespace"]
    assert vm.namespace_violations(objs) == [
        "HorizontalPodAutoscaler/tf-serving: namespace None, expected 'tfx-gan'"]


def test_service_account_mounts_no_token(rendered):
    for overlay in OVERLAYS:
        sa = get(rendered(overlay), "ServiceAccount/tfx-gan")
        assert sa["automountServiceAccountToken"] is False


# ------------------------------------------------------------------ networking
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_serving_port_open_only_to_labelled_clients(rendered, overlay):
    objs = rendered(overlay)
    policy = get(objs, "NetworkPolicy/allow-serving-grpc")
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"] == {"tfx-gan.io/serving-client": "true"}
    assert peer["namespaceSelector"]["matchLabels"] == {"tfx-gan.io/serving-clients": "allowed"}
    # the project's own namespace carries the namespace label
    assert get(objs, "Namespace/tfx-gan")["metadata"]["labels"][
        "tfx-gan.io/serving-clients"] == "allowed"
    # and its labelled clients may send to the gRPC port despite default-deny egress
    egress = get(objs, "NetworkPolicy/allow-serving-clients-egress")["spec"]
    assert egress["podSelector"]["matchLabels"] == peer["podSelector"]["matchLabels"]
    assert egress["egress"][0]["ports"] == [{"port": 8500, "protocol": "TCP"}]


@pytest.mark.parametrize("breakage, expected", [
    ("drop default deny", "no default-deny NetworkPolicy"),
    ("open from", "no 'from'"),
    ("namespace-only peer", "does not require pod labels"),
    ("ip block", "ipBlock source"),
    ("any port", "no 'ports'"),
    ("missing port", "is not a port of"),
])
def test_network_policy_check_catches(vm, rendered, breakage, expected):
    objs = rendered("overlays/prod")
    assert vm.network_policy_violations(objs) == []
    rule = get(objs, "NetworkPolicy/allow-serving-grpc")["spec"]["ingress"][0]
    if breakage == "drop default deny":
        objs.remove(get(objs, "NetworkPolicy/default-deny"))
    elif breakage == "open from":
        del rule["from"]
    elif breakage == "namespace-only peer":
        del rule["from"][0]["podSelector"]
    elif breakage == "ip block":
        rule["from"].append({"ipBlock": {"cidr": "0.0.0.0/0"}})
    elif breakage == "any port":
        del rule["ports"]
    elif breakage == "missing port":
        rule["ports"][0]["port"] = 9000
    assert any(expected in p for p in vm.network_policy_violations(objs))


# ----------------------------------------------------------- TF Serving config
@pytest.mark.parametrize("overlay", ALL)
def test_tf_serving_reads_the_model_list_the_pipeline_writes(vm, rendered, overlay):
    """models.config is the file the Pushers rewrite under MODEL_BASE_PATH (only pushed
    GANs), polled; no ConfigMap holds a fixed list of every GAN, which would keep TF
    Serving unready while one GAN has no blessed version."""
    objs = rendered(overlay)
    paths = next(o for o in objs if o["kind"] == "ConfigMap"
                 and o["metadata"]["name"].startswith("pipeline-paths-"))
    base = paths["data"]["MODEL_BASE_PATH"]
    assert base == ("gs://tfx-gan-example/serving" if overlay == "overlays/prod" else "/models")
    flags = vm.flag_values(container(get(objs, "Deployment/tf-serving"), "tf-serving"), objs)
    assert flags["--model_config_file"] == C.join_base_path(base, C.MODELS_CONFIG)
    assert flags["--model_config_file_poll_wait_seconds"] == "60"
    for cm in (o for o in objs if o["kind"] == "ConfigMap"):
        assert C.MODELS_CONFIG not in (cm.get("data") or {}), cm["metadata"]["name"]
    # The pipeline Job pushes into the same root.
    job = vm.flag_values(container(get(objs, "Job/pipeline-run")), objs)
    assert job["--serving-root"] == base


@pytest.mark.parametrize("breakage, expected", [
    ("fixed list", "holds a fixed models.config"),
    ("no poll", "--model_config_file_poll_wait_seconds=0 never re-reads"),
    ("other file", "--model_config_file='/etc/tf-serving/models.config' is not the pipeline's"),
])
def test_serving_check_catches_a_model_list_the_pipeline_does_not_write(vm, rendered, breakage,
                                                                         expected):
    objs = rendered("overlays/prod")
    assert vm.serving_violations(objs) == []
    c = container(get(objs, "Deployment/tf-serving"), "tf-serving")
    if breakage == "fixed list":
        cm = next(o for o in objs if o["metadata"]["name"].startswith("tf-serving-config-"))
        cm["data"][C.MODELS_CONFIG] = C.models_config_text(
            C.build_model_server_config("gs://tfx-gan-example/serving"))
    elif breakage == "no poll":
        c["args"] = [a if not a.startswith("--model_config_file_poll") else
                     "--model_config_file_poll_wait_seconds=0" for a in c["args"]]
    else:
        c["args"] = [a if not a.startswith("--model_config_file=") else
                     "--model_config_file=/etc/tf-serving/models.config" for a in c["args"]]
    problems = vm.serving_violations(objs)
    assert len(problems) == 1 and expected in problems[0], problems


def test_committed_serving_configs_match_a_fresh_render(rc):
    assert rc.stale_files() == [], "run: python -m deploy.render_configs"
    for target in rc.TARGETS:
        assert not (ROOT / "kubernetes" / target.out_dir / C.MODELS_CONFIG).exists()


def test_stale_serving_config_is_detected(rc, tmp_path):
    copy = tmp_path / "kubernetes"
    shutil.copytree(ROOT / "kubernetes", copy, ignore=shutil.ignore_patterns("__pycache__"))
    stale = copy / "overlays/prod/serving-config" / C.BATCHING_PARAMETERS
    stale.write_text(stale.read_text().replace("num_batch_threads", "# num_batch_threads"))
    assert rc.stale_files(copy) == [f"overlays/prod/serving-config/{C.BATCHING_PARAMETERS}"]
    rc.render(copy)
    assert rc.stale_files(copy) == []
    assert not (copy / "overlays/prod/serving-config" / C.MODELS_CONFIG).exists()


def test_render_configs_reads_env_files_like_kustomize(rc, tmp_path):
    for target in rc.TARGETS:
        assert rc.model_base_path(target)
    env = tmp_path / "x.env"
    env.write_text("# comment\n\nMODEL_BASE_PATH=gs://b/m?x=1\n")
    assert rc.read_env_file(env) == {"MODEL_BASE_PATH": "gs://b/m?x=1"}
    env.write_text("NO_EQUALS_SIGN\n")
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        rc.read_env_file(env)


@pytest.mark.parametrize("overlay", ALL)
def test_thread_flags_and_batch_threads_follow_the_cpu_limit(vm, rendered, overlay):
    objs = rendered(overlay)
    c = container(get(objs, "Deployment/tf-serving"), "tf-serving")
    flags = vm.flag_values(c, objs)
    cores = vm.cpu_cores(c["resources"]["limits"]["cpu"])
    for flag in vm.THREAD_FLAGS:
        assert flags[flag] == ("resource", "tf-serving", "limits.cpu", "1"), flag
    cm = next(o for o in objs if o["metadata"]["name"].startswith("tf-serving-config-"))
    batching = C.parse_batching_parameters(cm["data"][C.BATCHING_PARAMETERS])
    assert batching.num_batch_threads.value == cores


@pytest.mark.parametrize("breakage, expected", [
    ("fractional cpu", "whole number of cores"),
    ("literal flag", "--tensorflow_intra_op_parallelism must equal the CPU limit"),
    ("cpu without re-render", "num_batch_threads=4 but CPU limit is 2"),
    ("memory", "below twice the resident models"),
    ("no resident annotation", "resident models) missing"),
    ("rest without port", "REST on port 8501 but container port http is None"),
    ("grpc port", "--port=8500 but container port grpc is 9500"),
    ("replicas with hpa", "has replicas although"),
    ("no pdb", "no PodDisruptionBudget"),
])
def test_serving_check_catches(vm, rendered, breakage, expected):
    objs = rendered("overlays/prod")
    assert vm.serving_violations(objs) == []
    dep = get(objs, "Deployment/tf-serving")
    c = container(dep, "tf-serving")
    if breakage == "fractional cpu":
        c["resources"]["limits"]["cpu"] = "3500m"
    elif breakage == "literal flag":
        c["args"] = [a if not a.startswith("--tensorflow_intra") else
                     "--tensorflow_intra_op_parallelism=16" for a in c["args"]]
    elif breakage == "cpu without re-render":
        c["resources"]["limits"]["cpu"] = c["resources"]["requests"]["cpu"] = "2"
    elif breakage == "memory":
        c["resources"]["limits"]["memory"] = "1536Mi"
    elif breakage == "no resident annotation":
        del dep["metadata"]["annotations"][vm.RESIDENT_ANNOTATION]
    elif breakage == "rest without port":
        c["ports"] = [p for p in c["ports"] if p["name"] != "http"]
    elif breakage == "grpc port":
        next(p for p in c["ports"] if p["name"] == "grpc")["containerPort"] = 9500
    elif breakage == "replicas with hpa":
        dep["spec"]["replicas"] = 2
    elif breakage == "no pdb":
        objs.remove(get(objs, "PodDisruptionBudget/tf-serving"))
    assert any(expected in p for p in vm.serving_violations(objs)), vm.serving_violations(objs)


def test_serving_memory_limit_covers_two_resident_copies(vm, rendered):
    for overlay in ALL:
        dep = get(rendered(overlay), "Deployment/tf-serving")
        resident = vm.memory_bytes(dep["metadata"]["annotations"][vm.RESIDENT_ANNOTATION])
        limit = vm.memory_bytes(container(dep)["resources"]["limits"]["memory"])
        assert limit >= 2 * resident


# ---------------------------------------------------------- ports and probes
def _service_ports(objs):
    return {p["name"]: p["port"] for p in get(objs, "Service/tf-serving")["spec"]["ports"]}


def test_rest_is_exposed_only_where_an_overlay_asks(vm, rendered):
    assert _service_ports(rendered("base")) == {"grpc": 8500}
    assert _service_ports(rendered("overlays/prod")) == {"grpc": 8500}
    assert _service_ports(rendered("overlays/dev")) == {"grpc": 8500, "http": 8501}
    for overlay, rest in (("base", "0"), ("overlays/dev", "8501"), ("overlays/prod", "8501")):
        objs = rendered(overlay)
        flags = vm.flag_values(container(get(objs, "Deployment/tf-serving")), objs)
        assert (flags["--port"], flags["--rest_api_port"]) == ("8500", rest), overlay
    # prod's REST port (metrics) is reachable by labelled scrapers only, not by clients
    prod = rendered("overlays/prod")
    serving_rest = [
        p for p in prod if p["kind"] == "NetworkPolicy"
        and p["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "tf-serving"}}
        and any(port["port"] == "http" for r in p["spec"].get("ingress", []) for port in r["ports"])]
    assert [p["metadata"]["name"] for p in serving_rest] == ["allow-serving-metrics"]
    (rule,) = serving_rest[0]["spec"]["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"] == {"tfx-gan.io/metrics-scraper": "true"}


def test_prometheus_annotation_path_is_the_monitoring_config_path(rendered):
    dep = get(rendered("overlays/prod"), "Deployment/tf-serving")
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == C.PROMETHEUS_PATH
    assert annotations["prometheus.io/port"] == "8501"


@pytest.mark.parametrize("overlay", ALL)
def test_every_workload_has_probes_on_existing_ports(vm, rendered, overlay):
    objs = rendered(overlay)
    for ref in ("Deployment/tf-serving", "Deployment/tensorboard"):
        c = container(get(objs, ref))
        assert all(c.get(p) for p in vm.PROBES), ref
    assert sum(len(vm.probe_port_violations(o)) for o in objs) == 0


@pytest.mark.parametrize("port", ["http", 9999, "8501"])
def test_probe_check_catches_a_port_that_does_not_exist(vm, rendered, port):
    dep = get(rendered("base"), "Deployment/tf-serving")  # base: gRPC only
    container(dep)["readinessProbe"] = {"httpGet": {"path": "/v1/models/dcgan", "port": port}}
    (problem,) = vm.probe_port_violations(dep)
    assert "readinessProbe port" in problem


def test_service_check_catches_unknown_target_port_and_selector(vm, rendered):
    objs = rendered("overlays/dev")
    svc = get(objs, "Service/tensorboard")
    svc["spec"]["ports"][0]["targetPort"] = "grpc"
    assert vm.service_violations(objs) == [
        "Service/tensorboard: targetPort 'grpc' is not a port of Deployment/tensorboard"]
    svc["spec"]["selector"] = {"app.kubernetes.io/name": "nothing"}
    assert "matches no pod template" in vm.service_violations(objs)[0]


# -------------------------------------------------------------------- images
def test_tf_serving_image_matches_the_serving_api_pin(vm, rendered):
    version = lock_pin("tensorflow-serving-api")
    for overlay in ALL:
        image = container(get(rendered(overlay), "Deployment/tf-serving"))["image"]
        assert image == f"tensorflow/serving:{version}", overlay


def test_pipeline_image_is_tagged_with_the_project_version(vm, rendered):
    version = re.search(r'version="([^"]+)"', (ROOT / "setup.py").read_text()).group(1)
    for overlay in ALL:
        objs = rendered(overlay)
        images = {container(get(objs, ref))["image"]
                  for ref in ("Deployment/tensorboard", "Job/pipeline-run")}
        assert len(images) == 1, images  # TensorBoard runs from the pipeline image
        assert vm.image_tag(images.pop()) == version, overlay


@pytest.mark.parametrize("image, ok", [
    ("tensorflow/serving:2.16.1", True),
    ("registry.example.com:5000/tfx-gan/pipeline:0.1.0", True),
    ("tensorflow/serving@sha256:" + "a" * 64, True),
    ("tensorflow/serving:2.16.1@sha256:" + "b" * 64, True),
    ("tensorflow/serving", False),
    ("tensorflow/serving:latest", False),
    ("registry.example.com:5000/tfx-gan/pipeline", False),
    ("tensorflow/serving@sha256:abc", False),
])
def test_image_pin_check(vm, rendered, image, ok):
    dep = get(rendered("base"), "Deployment/tf-serving")
    container(dep)["image"] = image
    assert (vm.image_violations([dep]) == []) is ok


# ---------------------------------------------------------- pipeline + TensorBoard
@pytest.mark.parametrize("overlay", ALL)
def test_job_runs_the_pipeline_with_beam_into_the_served_root(vm, rendered, overlay):
    objs = rendered(overlay)
    c = container(get(objs, "Job/pipeline-run"))
    assert c["command"] == ["tfxgan"] and c["args"][0] == "run"
    flags = vm.flag_values(c, objs)
    env = vm.container_env(c, objs)
    assert flags["--runner"] == "beam"
    assert flags["--serving-root"] == env["MODEL_BASE_PATH"]
    assert flags["--pipeline-root"] == env["PIPELINE_ROOT"]
    assert flags["--data-root"] == env["DATA_ROOT"]
    assert flags["--metadata"] == env["METADATA_PATH"]
    assert "--beam-arg=--direct_running_mode=multi_processing" in c["args"]
    assert "--beam-arg=--direct_num_workers=$(CPU_CORES)" in c["args"]
    assert env["CPU_CORES"] == ("resource", "pipeline", "limits.cpu", "1")
    # Every path the job writes locally is on a mounted volume.
    mounts = [m["mountPath"] for m in c["volumeMounts"]]
    for key in ("MODEL_BASE_PATH", "PIPELINE_ROOT", "DATA_ROOT", "METADATA_PATH"):
        if env[key].startswith("/"):
            assert any(env[key].startswith(m + "/") or env[key] == m for m in mounts), key


def test_dev_run_builds_demo_data_where_the_pipeline_reads(vm, rendered):
    objs = rendered("overlays/dev")
    spec = get(objs, "Job/pipeline-run")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    assert init["image"] == spec["containers"][0]["image"]
    assert init["args"][0] == "demo-data"
    assert vm.flag_values(init, objs)["--output"] == vm.flag_values(
        spec["containers"][0], objs)["--data-root"]


def test_prod_schedules_exactly_the_jobs_pod(vm, rendered):
    objs = rendered("overlays/prod")
    cron = get(objs, "CronJob/pipeline-schedule")
    assert cron["spec"]["jobTemplate"]["spec"] == get(objs, "Job/pipeline-run")["spec"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container(cron["spec"]["jobTemplate"])["image"] = "tfx-gan-pipeline:0.0.9"
    assert vm.pipeline_schedule_violations(objs)
    assert not [o for o in rendered("overlays/dev") if o["kind"] == "CronJob"]


@pytest.mark.parametrize("overlay", ALL)
def test_tensorboard_reads_the_pipeline_log_dir(vm, rendered, overlay):
    objs = rendered(overlay)
    c = container(get(objs, "Deployment/tensorboard"))
    assert c["command"] == ["tensorboard"]
    flags = vm.flag_values(c, objs)
    assert flags["--logdir"] == vm.container_env(c, objs)["TENSORBOARD_LOGDIR"]
    assert "--bind_all" in c["args"]
    assert {"name": "http", "containerPort": int(flags["--port"]), "protocol": "TCP"} in c["ports"]


def test_hpa_only_in_prod_and_scales_serving(rendered):
    assert not [o for o in rendered("overlays/dev") if o["kind"] == "HorizontalPodAutoscaler"]
    hpa = get(rendered("overlays/prod"), "HorizontalPodAutoscaler/tf-serving")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "tf-serving"}
    assert hpa["spec"]["minReplicas"] >= 2


def test_prod_reads_models_from_the_object_store_not_a_volume(rendered):
    objs = rendered("overlays/prod")
    assert not [o for o in objs if o["kind"] == "PersistentVolumeClaim"
                and o["metadata"]["name"] == "tfx-gan-models"]
    for ref in ("Deployment/tf-serving", "Job/pipeline-run"):
        assert "/models" not in [m["mountPath"] for m in container(get(objs, ref))["volumeMounts"]]
