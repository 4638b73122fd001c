#!/usr/bin/env python3
"""Cross-checks deploy/ against the build: the YAML is well formed, and the container file, compose file,
Kubernetes manifests and systemd unit name binaries, options, environment variables, ports, configuration keys
and paths that really exist. Called by scripts/check-deploy with the folder of the built binaries.

Every problem is printed as `deploy check: FILE: what is wrong`; the exit status is the number of problems
(capped at 100)."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
BIN = sys.argv[1]
problems = []
checks = 0


def problem(where, text):
    problems.append(f"deploy check: {os.path.relpath(where, ROOT)}: {text}")


def check(condition, where, text):
    global checks
    checks += 1
    if not condition:
        problem(where, text)
    return condition


def run(*arguments, env=None):
    return subprocess.run(list(arguments), capture_output=True, text=True, env=env)


def load_all(path):
    with open(path, encoding="utf-8") as handle:
        return [document for document in yaml.safe_load_all(handle) if document is not None]


def under(path, folder):
    return os.path.normpath(path).startswith(os.path.normpath(folder).rstrip("/") + "/")


# What the build really provides.
with open(os.path.join(ROOT, "Package.swift"), encoding="utf-8") as handle:
    executables = set(re.findall(r'\.executable\(name: "([^"]+)"', handle.read()))
for name in sorted(executables):
    check(os.access(os.path.join(BIN, name), os.X_OK), BIN, f"the built binary {name} is missing (run swift build)")
daemon_help = run(os.path.join(BIN, "secaggd"), "--help").stdout
daemon_variables = set(re.findall(r"\bSECAGGD_[A-Z_]+\b", daemon_help))
daemon_options = set(re.findall(r"(--[a-z][a-z-]*)", daemon_help))
check(len(daemon_variables) >= 10, BIN, "secaggd --help lists no SECAGGD_* variables")
command_help = {}


def secagg_options(subcommand):
    if subcommand not in command_help:
        result = run(os.path.join(BIN, "secagg"), subcommand, "--help")
        command_help[subcommand] = set(re.findall(r"(--[a-z][a-z-]*)", result.stdout)) if result.returncode == 0 else None
    return command_help[subcommand]


def check_command_line(where, text):
    """Every `secagg SUB --flag` and `secaggd --flag` in a shell command line names a real subcommand and flag."""
    for line in re.split(r"[|;&\n]", text):
        try:
            words = shlex.split(line, posix=True)
        except ValueError:
            words = line.split()
        for position, word in enumerate(words):
            program = os.path.basename(word)
            if program == "secagg" and position + 1 < len(words):
                subcommand = words[position + 1]
                options = secagg_options(subcommand)
                if check(options is not None, where, f"secagg has no subcommand '{subcommand}'"):
                    for flag in words[position + 2:]:
                        if flag.startswith("--"):
                            check(flag.split("=")[0] in options, where, f"secagg {subcommand} has no option {flag}")
            elif program == "secaggd":
                for flag in words[position + 1:]:
                    if flag.startswith("--"):
                        check(flag.split("=")[0] in daemon_options, where, f"secaggd has no option {flag}")


def check_environment(where, names):
    for name in names:
        if name.startswith("SECAGGD_"):
            check(name in daemon_variables, where, f"{name} is not a variable secaggd knows (secaggd --help)")


# A scratch identity and enrollment list, so --check-config can validate configurations whose key paths exist
# only inside a container.
scratch = tempfile.mkdtemp(prefix="secagg-deploy-check-")
coordinator_key = os.path.join(scratch, "coordinator.key")
client_key = os.path.join(scratch, "client.key")
run(os.path.join(BIN, "secagg"), "keygen", "--out", coordinator_key)
with open(os.path.join(scratch, "enrolled.txt"), "w", encoding="utf-8") as handle:
    handle.write(run(os.path.join(BIN, "secagg"), "keygen", "--out", client_key).stdout)


def check_config(where, text, environment=None, folder=None, enrolled=None):
    """Runs `secaggd --check-config --skip-port-check` (the ports are the target machine's, not this one's) on
    configuration text, with the deployment's environment and the identity, enrollment, results, audit and store
    paths redirected to scratch files; `enrolled` is the deployment's own enrollment list, if it ships one (an
    empty list must not stop the daemon: enrollment may live only in the store)."""
    path = os.path.join(folder or scratch, f"check-{len(problems)}-{abs(hash(text))}.yaml")
    enrollment = os.path.join(scratch, "enrolled.txt")
    if enrolled is not None:
        enrollment = os.path.join(scratch, f"enrolled-{len(problems)}-{abs(hash(enrolled))}.txt")
        with open(enrollment, "w", encoding="utf-8") as handle:
            handle.write(enrolled)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SECAGGD_")}
    env.update(environment or {})
    env.update({
        "SECAGGD_IDENTITY": coordinator_key, "SECAGGD_ENROLLMENT_FILE": enrollment,
        "SECAGGD_RESULTS_DIRECTORY": os.path.join(scratch, "results"),
        "SECAGGD_AUDIT_PATH": os.path.join(scratch, "audit.log"),
        "SECAGGD_STORE_PATH": os.path.join(scratch, "secaggd.sqlite"),
    })
    result = run(os.path.join(BIN, "secaggd"), "--config", path, "--check-config", "--skip-port-check", env=env)
    check(result.returncode == 0, where, "secaggd --check-config fails:\n" + result.stdout + result.stderr)
    os.remove(path)
    return yaml.safe_load(text)


def state_paths(config):
    """What the daemon writes: results, audit log and (when configured) the durable store."""
    paths = [config["results_directory"], config["audit"]["path"]]
    if isinstance(config.get("store"), dict) and config["store"].get("path"):
        paths.append(config["store"]["path"])
    return paths


# 1. Every YAML file is well formed.
yaml_files = []
for folder, _, files in os.walk(DEPLOY):
    yaml_files += [os.path.join(folder, name) for name in files if name.endswith((".yaml", ".yml"))]
for path in sorted(yaml_files):
    try:
        load_all(path)
        check(True, path, "")
    except yaml.YAMLError as error:
        problem(path, f"not well-formed YAML: {error}")

# 2. The example configuration validates.
example = os.path.join(DEPLOY, "secaggd.example.yaml")
with open(example, encoding="utf-8") as handle:
    check_config(example, handle.read())

# 3. The container file builds the real products and copies exactly the two binaries.
containerfile = os.path.join(DEPLOY, "Containerfile")
with open(containerfile, encoding="utf-8") as handle:
    container = handle.read()
built = set(re.findall(r"--product (\S+)", container))
check(built == executables, containerfile, f"builds {sorted(built)}, the package's executables are {sorted(executables)}")
copied = set(re.findall(r"/out/(\w+)", container.split("FROM ${RUNTIME_IMAGE}")[-1]))
check(copied == executables, containerfile, f"the runtime stage copies {sorted(copied)}, expected {sorted(executables)}")
for source in re.findall(r"^COPY (?!--from)(\S+)", container, re.MULTILINE):
    check(os.path.exists(os.path.join(ROOT, source)), containerfile, f"COPY {source}: no such path in the repository")
entrypoint = re.search(r'^ENTRYPOINT \["([^"]+)"', container, re.MULTILINE)
check(entrypoint is not None and os.path.basename(entrypoint.group(1)) in executables, containerfile,
      "the ENTRYPOINT is not one of the binaries")
check(re.search(r"^USER (?!0\b|root\b)", container, re.MULTILINE) is not None, containerfile, "the image must run as a non-root USER")
exposed = set(int(port) for line in re.findall(r"^EXPOSE (.+)$", container, re.MULTILINE) for port in line.split())
cmd = re.search(r"^CMD (\[.*\])$", container, re.MULTILINE)
if check(cmd is not None, containerfile, "no CMD"):
    check_command_line(containerfile, "secaggd " + " ".join(yaml.safe_load(cmd.group(1))))

# Reproducible images: the build context keeps Package.resolved (tracked by git), and the build resolves exactly it.
dockerignore = os.path.join(ROOT, ".dockerignore")
with open(dockerignore, encoding="utf-8") as handle:
    ignored = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
check("Package.resolved" not in ignored, dockerignore, "Package.resolved is left out of the build context: images would build unpinned versions")
tracked = run("git", "-C", ROOT, "ls-files", "--error-unmatch", "Package.resolved")
check(tracked.returncode == 0, os.path.join(ROOT, "Package.resolved"), "Package.resolved is not committed: an application pins its dependencies")
check(re.search(r"^COPY .*Package\.resolved", container, re.MULTILINE) is not None
      and "--force-resolved-versions" in container, containerfile, "the build must copy Package.resolved and resolve exactly it")
# The image name: one, documented in the Containerfile, used by compose and Kubernetes, never pulled.
IMAGE = "localhost/secagg:latest"
check(f"-t {IMAGE}" in container, containerfile, f"the documented build tag is not {IMAGE}")
# Folders the image's user writes as mount points (a new named volume copies the image folder's owner).
image_folders = set(re.findall(r"install -d -o secagg -g secagg -m 0700 (\S+)", container))

# 4. The compose demo.
compose_path = os.path.join(DEPLOY, "compose.yaml")
compose = load_all(compose_path)[0]
services = compose.get("services", {})
demo_config_text = None
for name, service in services.items():
    where = f"{compose_path} ({name})"
    check(service.get("image") == IMAGE, compose_path, f"{name}: the image is {service.get('image')}, not {IMAGE}")
    check(service.get("pull_policy") == ("build" if service.get("build") else "never"), compose_path,
          f"{name}: pull_policy must be {'build' if service.get('build') else 'never'} (the image is built locally, never pulled)")
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith(".") and not volume.endswith(":ro"):
            check(target in image_folders or target == "/var/lib/secagg", containerfile,
                  f"compose service {name} writes to the volume at {target}, which the image does not create for its user")
    build = service.get("build")
    if build:
        context = os.path.join(DEPLOY, build.get("context", "."))
        check(os.path.exists(os.path.join(context, build.get("dockerfile", "Dockerfile"))), compose_path,
              f"{name}: build.dockerfile does not exist")
    command = service.get("command", [])
    entry = service.get("entrypoint", [])
    text = " ".join(entry if isinstance(entry, list) else [entry]) + "\n" + "\n".join(command if isinstance(command, list) else [command])
    check_command_line(compose_path, text.replace("$$", "$"))
    check_environment(compose_path, (service.get("environment") or {}).keys())
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            check(os.path.exists(os.path.join(DEPLOY, source)), compose_path, f"{name}: bind source {source} does not exist")
            if target == "/etc/secagg/secaggd.yaml":
                with open(os.path.join(DEPLOY, source), encoding="utf-8") as handle:
                    demo_config_text = handle.read()
                    demo_mounts = [item.split(":")[1] for item in service.get("volumes", [])]
                    demo_writable = [item.split(":")[1] for item in service.get("volumes", []) if not item.endswith(":ro")]
                    demo_environment = service.get("environment") or {}
                    demo_ports = service.get("ports", [])
                    demo_health = " ".join(service.get("healthcheck", {}).get("test", []))
if check(demo_config_text is not None and "coordinator" in services, compose_path,
         "no coordinator service mounting a configuration at /etc/secagg/secaggd.yaml"):
    config = check_config(compose_path, demo_config_text, {key: str(value) for key, value in demo_environment.items()})
    listen_port = config["listen"]["port"]
    metrics_port = config["metrics"]["port"]
    published = set(int(str(port).split(":")[-1]) for port in demo_ports)
    check(published == {listen_port, metrics_port}, compose_path, f"publishes {sorted(published)}, the configuration uses {listen_port} and {metrics_port}")
    check(exposed == {listen_port, metrics_port}, containerfile, f"EXPOSE {sorted(exposed)} differs from the ports the configurations use")
    check(f"/{metrics_port}" in demo_health and "/readyz" in demo_health, compose_path, "the healthcheck does not ask /readyz on the metrics port")
    check(config["metrics"].get("enabled") is True, compose_path, "the healthcheck needs metrics.enabled")
    for key in ("identity",):
        check(any(under(config[key], mount) for mount in demo_mounts), compose_path, f"{key} {config[key]} is on no mounted volume")
    check(any(under(config["enrollment"]["file"], mount) for mount in demo_mounts), compose_path, "the enrollment file is on no mounted volume")
    for path in state_paths(config):
        check(any(under(path, mount) for mount in demo_writable), compose_path, f"{path} is on no writable volume")
    tasks = {task["name"] for task in config["tasks"]}
    clients = [service for name, service in services.items() if name.startswith("client")]
    check(len(clients) >= min(task["min_clients"] for task in config["tasks"]), compose_path, "fewer clients than the task's min_clients")
    for service in clients:
        text = " ".join(service.get("command", []))
        check(f"coordinator:{listen_port}" in text, compose_path, "a client does not connect to coordinator:<listen port>")
        task = re.search(r"--task (\S+)", text)
        check(task is not None and task.group(1) in tasks, compose_path, "a client joins a task the configuration does not have")
        check(any(under(path, "/keys") for path in re.findall(r"/keys/\S+", text)), compose_path, "a client reads keys outside /keys")

# 5. Kubernetes.
k8s = os.path.join(DEPLOY, "kubernetes")
resources = {}
for path in sorted(os.listdir(k8s)):
    if path.endswith(".yaml") and path != "kustomization.yaml":
        for document in load_all(os.path.join(k8s, path)):
            resources[(document["kind"], document["metadata"]["name"])] = (path, document)
kustomization = load_all(os.path.join(k8s, "kustomization.yaml"))[0]
check([image.get("name") for image in kustomization.get("images", [])] == [IMAGE.split(":")[0]], k8s,
      "kustomization.yaml must name the image once (images: - name: localhost/secagg) so a registry is set in one place")
for listed in kustomization.get("resources", []):
    check(os.path.exists(os.path.join(k8s, listed)), k8s, f"kustomization lists {listed}, which does not exist")
statefulsets = [document for (kind, _), (_, document) in resources.items() if kind == "StatefulSet"]
if check(len(statefulsets) == 1, k8s, "expected one StatefulSet"):
    statefulset = statefulsets[0]
    where = os.path.join(k8s, "statefulset.yaml")
    spec = statefulset["spec"]
    pod = spec["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    claims = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates", [])}
    check(spec.get("replicas") == 1, where, "a coordinator is a single writer: replicas must be 1")
    check(("Service", spec["serviceName"]) in resources, where, f"serviceName {spec['serviceName']} is not a Service")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, where, "the pod must run as non-root")
    for container in pod.get("initContainers", []) + pod["containers"]:
        name = container["name"]
        check(container.get("image") == IMAGE, where, f"{name}: the image is {container.get('image')}, not {IMAGE} (rename it in kustomization.yaml)")
        check(container.get("imagePullPolicy") in ("IfNotPresent", "Never"), where,
              f"{name}: imagePullPolicy must be IfNotPresent or Never (with :latest the default is Always: a local image is pulled)")
        mounts = {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}
        for mount in container.get("volumeMounts", []):
            check(mount["name"] in volumes or mount["name"] in claims, where, f"{name}: mounts unknown volume {mount['name']}")
        limits = container.get("resources", {}).get("limits", {})
        check("cpu" in limits and "memory" in limits, where, f"{name}: needs cpu and memory limits")
        check(container.get("securityContext", {}).get("allowPrivilegeEscalation") is False, where, f"{name}: allowPrivilegeEscalation must be false")
        check_environment(where, [item["name"] for item in container.get("env", [])])
        command = container.get("command", [])
        for path in [word for word in command if word.startswith("/")]:
            check(any(under(path, mount) for mount in mounts), where, f"{name}: {path} is on no mounted volume")
    container = pod["containers"][0]
    mounts = {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}
    check_command_line(where, "secaggd " + " ".join(container.get("args", [])))
    arguments = container.get("args", [])
    config_path = arguments[arguments.index("--config") + 1] if "--config" in arguments else None
    config_mount = os.path.dirname(config_path or "")
    if check(config_mount in mounts, where, f"the configuration {config_path} is on no mount"):
        volume = volumes[mounts[config_mount]["name"]]
        configmap_name = volume.get("configMap", {}).get("name")
        if check(("ConfigMap", configmap_name) in resources, where, f"ConfigMap {configmap_name} is not defined"):
            configmap = resources[("ConfigMap", configmap_name)][1]
            key = os.path.basename(config_path)
            if check(key in configmap["data"], where, f"ConfigMap {configmap_name} has no key {key}"):
                environment = {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}
                config = check_config(os.path.join(k8s, "configmap.yaml"), configmap["data"][key], environment,
                                      enrolled=configmap["data"].get("enrolled.txt"))
                ports = {port["name"]: port["containerPort"] for port in container["ports"]}
                check(config["listen"]["port"] in ports.values(), where, "no containerPort for listen.port")
                check(config["metrics"]["enabled"] is True and config["metrics"]["port"] in ports.values(), where,
                      "the probes need metrics.enabled and a containerPort for metrics.port")
                check(config["listen"]["host"] == "0.0.0.0" and config["metrics"]["host"] == "0.0.0.0",
                      os.path.join(k8s, "configmap.yaml"), "in a pod, listen.host and metrics.host must be 0.0.0.0")
                for probe in ("livenessProbe", "readinessProbe"):
                    http = container.get(probe, {}).get("httpGet")
                    if check(http is not None, where, f"{probe} is missing"):
                        port = ports.get(http["port"], http["port"])
                        check(port == config["metrics"]["port"], where, f"{probe} asks port {http['port']}, not the metrics port")
                        check(http["path"] in ("/healthz", "/readyz", "/metrics"), where, f"{probe}: the endpoint has no path {http['path']}")
                for service_key, (_, service) in resources.items():
                    if service_key[0] == "Service":
                        for port in service["spec"]["ports"]:
                            check(port["targetPort"] in ports or port["targetPort"] in ports.values(), where,
                                  f"Service {service_key[1]} targets port {port['targetPort']}, which the pod does not have")
                identity_folder = os.path.dirname(config["identity"])
                check(identity_folder in mounts, where, f"identity {config['identity']} is on no mount")
                enrollment = config["enrollment"]["file"]
                check(os.path.dirname(enrollment) == config_mount and os.path.basename(enrollment) in configmap["data"],
                      where, f"the enrollment file {enrollment} is not in the ConfigMap")
                state = [path for path, mount in mounts.items() if mount["name"] in claims]
                for path in state_paths(config):
                    check(any(under(path, folder) for folder in state), where, f"{path} is not on the persistent volume")
    secret_volumes = [volume["secret"]["secretName"] for volume in volumes.values() if "secret" in volume]
    for secret in secret_volumes:
        check(("Secret", secret) in resources, where, f"Secret {secret} is not defined")

# 6. The systemd unit: systemd-analyze verify (with the built binary in place of /usr/local/bin/secaggd).
unit = os.path.join(DEPLOY, "systemd", "secaggd.service")
with open(unit, encoding="utf-8") as handle:
    unit_text = handle.read()
for line in unit_text.splitlines():
    if line.startswith(("ExecStart=", "ExecStartPre=")):
        check_command_line(unit, line.split("=", 1)[1])
settings = dict(line.split("=", 1) for line in unit_text.splitlines() if "=" in line and not line.startswith("#"))
for key, expected in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():
    check(settings.get(key) == expected, unit, f"{key} must be '{expected}'")
check(settings.get("User") not in (None, "root"), unit, "needs a dedicated User")
check(f"/var/lib/{settings.get('StateDirectory')}" in settings.get("ReadWritePaths", ""), unit, "ReadWritePaths must hold the StateDirectory")
with tempfile.TemporaryDirectory() as folder:
    copy = os.path.join(folder, "secaggd.service")
    with open(copy, "w", encoding="utf-8") as handle:
        handle.write(unit_text.replace("/usr/local/bin/", BIN.rstrip("/") + "/"))
    result = run("systemd-analyze", "verify", copy)
    output = (result.stdout + result.stderr).strip()
    check(result.returncode == 0 and "secaggd.service" not in output, unit, f"systemd-analyze verify: {output}")

shutil.rmtree(scratch, ignore_errors=True)
for line in problems:
    print(line)
if problems:
    print(f"deploy check: {len(problems)} of {checks} checks failed")
else:
    print(f"deploy check: all {checks} checks passed")
sys.exit(min(len(problems), 100))
