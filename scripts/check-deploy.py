#!/usr/bin/env python3
"""Cross-checks deploy/ against the build: the YAML is well formed, and the container file, compose file,
Kubernetes layouts and systemd unit name binaries, options, environment variables, ports, configuration keys
and paths that really exist. Called by scripts/check-deploy with the folder of the built binaries.

The Kubernetes layouts are rendered with `kubectl kustomize` (into .build/deploy-check/) and checked as the API
server would take them: strictly against the API's schemas (kubernetes-validate's bundled ones), then for names,
selectors and references; each container's configuration goes through `secaggd --check-config --skip-port-check`
or `secagg-root --check-config --skip-port-check` in a scratch copy of the pod's file system. A missing
secagg-root binary fails the check. DEPLOY_CHECK_VERBOSE=1 prints each such command with its output.

Every problem is printed as `deploy check: FILE: what is wrong`; the exit status is the number of problems
(capped at 100)."""

import glob
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

# 2. The example configurations validate: secaggd's as it is; secagg-root's once its REPLACE-WITH-… public keys are
#    filled in (with scratch keys) and its identity is a scratch key file, and not before (fail closed).
example = os.path.join(DEPLOY, "secaggd.example.yaml")
with open(example, encoding="utf-8") as handle:
    check_config(example, handle.read())
root_example = os.path.join(DEPLOY, "secagg-root.example.yaml")
with open(root_example, encoding="utf-8") as handle:
    root_text = handle.read()
root_folder = tempfile.mkdtemp(dir=scratch)
run(os.path.join(BIN, "secagg"), "keygen", "--out", os.path.join(root_folder, "root.key"))
placeholders = sorted(set(re.findall(r"REPLACE-WITH-[A-Z0-9-]+-PUBLIC-KEY", root_text)))
check(bool(placeholders), root_example, "no REPLACE-WITH-…-PUBLIC-KEY placeholders: the example must not ship keys")
filled = root_text
for index, placeholder in enumerate(placeholders):
    key_file = os.path.join(root_folder, f"scratch-{index}.key")
    public = run(os.path.join(BIN, "secagg"), "keygen", "--out", key_file).stdout.strip().split()[-1]
    filled = filled.replace(placeholder, public)
for name, text, expected in (("filled", filled, 0), ("as shipped", root_text, 2)):
    path = os.path.join(root_folder, f"root-{name.replace(' ', '-')}.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    result = run(os.path.join(BIN, "secagg-root"), "--config", path, "--check-config", "--skip-port-check",
                 env={key: value for key, value in os.environ.items() if not key.startswith("SECAGG_ROOT_")})
    check(result.returncode == expected, root_example,
          f"secagg-root --check-config on the example {name} exited {result.returncode}, expected {expected}:\n"
          + result.stdout + result.stderr)

# 3. The container file builds the real products and copies exactly the two binaries.
containerfile = os.path.join(DEPLOY, "Containerfile")
with open(containerfile, encoding="utf-8") as handle:
    container = handle.read()
built = set(re.findall(r"--product (\S+)", container))
check(built == executables, containerfile, f"builds {sorted(built)}, the package's executables are {sorted(executables)}")
copied = set(re.findall(r"/out/([\w-]+)", container.split("FROM ${RUNTIME_IMAGE}")[-1]))
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

# 5. Kubernetes: every layout (the single coordinator in kubernetes/, each overlay of kubernetes/sharded/) is
# rendered with kustomize as `kubectl apply -k` would, and the rendered objects are checked three ways: against the
# API's own schema, strictly (an unknown or misspelt field is an error, as in a typed decode); with the checks the
# API server and the kubelet make that a schema cannot (names, selectors, volume and port references); and against
# the binaries, by running each configuration through `secaggd --check-config` / `secagg-root --check-config` in a
# copy of the pod's file system (its mounts, what its init containers put there, its environment).
K8S = os.path.join(DEPLOY, "kubernetes")
RENDERED = os.path.join(ROOT, ".build", "deploy-check")
# The API versions the schema check uses: the oldest the layouts promise (deploy/README.md) and the newest known.
K8S_OLDEST = "1.29"
ENTRYPOINT = entrypoint.group(1) if entrypoint else "/usr/local/bin/secaggd"
# Where the runtime stage puts the binaries a container may run.
image_binaries = set()
for sources, destination in re.findall(r"^COPY --from=build ((?:/out/\S+ )+)(\S+)", container, re.MULTILINE):
    image_binaries |= {destination.rstrip("/") + "/" + os.path.basename(source) for source in sources.split()}

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
VARIABLE_REFERENCE = re.compile(r"(?<!\$)\$\(([^)]*)\)")
PLACEHOLDER = re.compile(r"REPLACE-WITH-([A-Z0-9-]+)-PUBLIC-KEY")
READY_PATHS = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}


def is_dns_subdomain(name):
    return isinstance(name, str) and 0 < len(name) <= 253 and all(DNS_LABEL.match(part) for part in name.split("."))


def is_dns_label(name, limit=63):
    return isinstance(name, str) and 0 < len(name) <= limit and DNS_LABEL.match(name) is not None


def is_port_name(name):
    """IANA_SVC_NAME, as the API validates container and Service port names."""
    return (isinstance(name, str) and 0 < len(name) <= 15 and re.match(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", name) is not None
            and "--" not in name and re.search(r"[a-z]", name) is not None)


def is_label_key(key):
    prefix, _, name = key.rpartition("/")
    return (prefix == "" or is_dns_subdomain(prefix)) and len(name) <= 63 and LABEL_NAME.match(name) is not None


def is_label_value(value):
    return isinstance(value, str) and (value == "" or (len(value) <= 63 and LABEL_NAME.match(value) is not None))


def selects(selector, labels):
    """Whether a LabelSelector (matchLabels and matchExpressions) selects these labels; an empty one selects all."""
    if selector is None:
        return False
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def selects_labels(selector, labels):
    """A Service's selector: a plain map."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


class Schemas:
    """The API's OpenAPI schemas as strict JSON schemas (every object closed: additionalProperties false), from the
    kubernetes-validate package (PyPI, Apache-2.0), which bundles them for each Kubernetes release. Validators are
    built once per release and kind."""

    def __init__(self):
        import importlib.resources
        import json
        import jsonschema
        from referencing import Registry, Resource
        self.jsonschema, self.json, self.Registry, self.Resource = jsonschema, json, Registry, Resource
        self.folder = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
        releases = sorted((tuple(int(part) for part in re.match(r"^v(\d+)\.(\d+)", entry.name).groups())
                           for entry in self.folder.iterdir() if entry.name.endswith("-local-strict")))
        oldest = tuple(int(part) for part in K8S_OLDEST.split("."))
        self.releases = sorted({release for release in releases if release == oldest} | {releases[-1]})
        self.registries, self.validators = {}, {}

    def release_folder(self, release):
        return self.folder.joinpath(f"v{release[0]}.{release[1]}.0-local-strict")

    def validator(self, release, api_version, kind):
        key = (release, api_version, kind)
        if key not in self.validators:
            if release not in self.registries:
                definitions = self.json.loads(self.release_folder(release).joinpath("_definitions.json").read_text())
                self.registries[release] = self.Resource.from_contents(definitions) @ self.Registry()
            group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
            path = self.release_folder(release).joinpath(f"{kind.lower()}-{group_version}.json")
            if not path.is_file():
                self.validators[key] = None
            else:
                schema = self.json.loads(path.read_text())
                registry = self.Resource.from_contents(schema) @ self.registries[release]
                self.validators[key] = self.jsonschema.validators.Draft202012Validator(schema, registry=registry)
        return self.validators[key]

    def problems(self, document):
        """Each schema violation of one object, per release: `release: path: message`."""
        found = []
        for release in self.releases:
            validator = self.validator(release, document.get("apiVersion", ""), document.get("kind", ""))
            name = f"{release[0]}.{release[1]}"
            if validator is None:
                found.append(f"Kubernetes {name} has no {document.get('kind')} in {document.get('apiVersion')}")
                continue
            for error in sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path)):
                path = ".".join(str(part) for part in error.absolute_path) or "(object)"
                message = error.message if len(error.message) < 300 else error.message[:300] + "…"
                found.append(f"Kubernetes {name}: {path}: {message}")
        return found


schemas = None
try:
    schemas = Schemas()
except ImportError as error:
    problem(K8S, f"the schema check needs the kubernetes-validate package (scripts/check-deploy installs it): {error}")

kubectl = shutil.which("kubectl")
kustomize_version = None
if kubectl:
    version = run(kubectl, "version", "--client", "-o", "yaml")
    if version.returncode == 0:
        kustomize_version = (yaml.safe_load(version.stdout) or {}).get("kustomizeVersion")
if check(kustomize_version is not None and re.match(r"^v?([5-9]|\d\d)\.", kustomize_version) is not None, K8S,
         f"rendering the layouts needs kubectl with kustomize v5 or later (kubectl kustomize); found "
         f"{kubectl or 'no kubectl'}{' with kustomize ' + kustomize_version if kustomize_version else ''}"):
    layouts = [K8S] + sorted(os.path.dirname(path) for path in
                             glob.glob(os.path.join(K8S, "sharded", "overlays", "*", "kustomization.yaml")))
else:
    layouts = []
check(len(layouts) != 1, os.path.join(K8S, "sharded"), "no overlay of the sharded layout to render")

# Every kustomization names the image once, as localhost/secagg, so a registry is set in one place.
for folder, _, files in os.walk(K8S):
    if "kustomization.yaml" in files:
        path = os.path.join(folder, "kustomization.yaml")
        names = [image.get("name") for image in load_all(path)[0].get("images", [])]
        check(names in ([], [IMAGE.split(":")[0]]), path, f"images: names {names}; name only {IMAGE.split(':')[0]}")


class Pod:
    """One pod a workload would create: its labels as the controller sets them, and its spec."""

    def __init__(self, workload, ordinal):
        name = workload["metadata"]["name"]
        self.workload = workload
        self.ordinal = ordinal
        self.name = f"{name}-{ordinal}"
        self.labels = dict((workload["spec"]["template"].get("metadata") or {}).get("labels") or {})
        self.labels.update({"statefulset.kubernetes.io/pod-name": self.name, "apps.kubernetes.io/pod-index": str(ordinal)})
        self.spec = workload["spec"]["template"]["spec"]

    def containers(self):
        return list(self.spec.get("initContainers") or []) + list(self.spec.get("containers") or [])

    def port(self, reference):
        """The containerPort a Service targetPort or NetworkPolicy port names (a number or a port name)."""
        for container in self.spec.get("containers") or []:
            for port in container.get("ports") or []:
                if reference in (port.get("name"), port.get("containerPort")):
                    return port
        return None


def expand(text, environment):
    """$(VAR) as the kubelet expands it in command, args and env values; unknown references are left as they are."""
    return VARIABLE_REFERENCE.sub(lambda match: environment.get(match.group(1), match.group(0)), text)


def documented_secret(name, keys=()):
    """Whether deploy/README.md creates this Secret (`kubectl create secret generic NAME`) and names each key file
    in it, literally or, for a key named after the pod, with the ordinal as $i (secagg-shard-$i.key)."""
    with open(os.path.join(DEPLOY, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    return f"kubectl create secret generic {name}" in text and all(
        key in text or re.sub(r"-\d+\.key$", "-$i.key", key) in text for key in keys)


def check_api(where, objects, pods):
    """What the API server would refuse, or what would silently not work, beyond the schema."""
    seen = set()
    by_kind = {}
    for document in objects:
        kind, metadata = document.get("kind"), document.get("metadata") or {}
        name = metadata.get("name")
        label = f"{kind} {name}"
        by_kind.setdefault(kind, {})[name] = document
        check((kind, name) not in seen, where, f"{label} is defined twice")
        seen.add((kind, name))
        if schemas is not None:
            for text in schemas.problems(document):
                problem(where, f"{label}: {text}")
            check(True, where, "")
        if kind == "Service":
            check(is_dns_label(name) and DNS_1035_LABEL.match(name) is not None, where,
                  f"{label}: a Service name must be a DNS-1035 label (lower case, starts with a letter, at most 63)")
        elif kind == "StatefulSet":
            # Its pods are named NAME-N, a host name; the controller's revision label NAME-HASH must stay within 63.
            check(is_dns_label(name, 52), where, f"{label}: a StatefulSet name must be a DNS label of at most 52 characters")
        else:
            check(is_dns_subdomain(name), where, f"{label}: the name must be a DNS-1123 subdomain")
        for field in ("labels", "annotations"):
            for key, value in (metadata.get(field) or {}).items():
                check(is_label_key(key), where, f"{label}: {field} key {key!r} is not a qualified name")
                if field == "labels":
                    check(is_label_value(value), where, f"{label}: label {key}={value!r} is not a valid label value")
        if kind in ("ConfigMap", "Secret"):
            for field in ("data", "stringData", "binaryData"):
                for key in document.get(field) or {}:
                    check(len(key) <= 253 and CONFIG_KEY.match(key) is not None, where, f"{label}: key {key!r} is invalid")
    services = by_kind.get("Service", {})
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})

    for workload in by_kind.get("StatefulSet", {}).values():
        name = workload["metadata"]["name"]
        spec = workload["spec"]
        template = spec["template"]
        label = f"StatefulSet {name}"
        check(selects(spec.get("selector"), template["metadata"].get("labels") or {}), where,
              f"{label}: spec.selector does not match the template's labels (the API refuses it)")
        check(bool((spec.get("selector") or {}).get("matchLabels") or (spec.get("selector") or {}).get("matchExpressions")),
              where, f"{label}: an empty selector")
        governing = services.get(spec.get("serviceName"))
        if check(governing is not None, where, f"{label}: serviceName {spec.get('serviceName')} is not a Service here"):
            check(governing["spec"].get("clusterIP") == "None", where,
                  f"{label}: its governing Service {governing['metadata']['name']} must be headless (clusterIP: None) "
                  "for the per-pod DNS names")
            check(selects_labels(governing["spec"].get("selector"), template["metadata"].get("labels") or {}), where,
                  f"{label}: its governing Service does not select its pods")
        pod = template["spec"]
        volumes = {}
        for volume in pod.get("volumes") or []:
            check(is_dns_label(volume["name"]) and volume["name"] not in volumes, where,
                  f"{label}: volume name {volume['name']} is not a unique DNS label")
            volumes[volume["name"]] = volume
        claims = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates") or []}
        for claim in claims:
            check(is_dns_label(claim) and claim not in volumes, where, f"{label}: claim {claim} is not a unique DNS label")
        for volume in volumes.values():
            if "configMap" in volume:
                reference = volume["configMap"]["name"]
                if check(reference in configmaps, where, f"{label}: volume {volume['name']} names ConfigMap {reference}, which is not rendered"):
                    for item in volume["configMap"].get("items") or []:
                        check(item["key"] in (configmaps[reference].get("data") or {}), where,
                              f"{label}: ConfigMap {reference} has no key {item['key']}")
            if "secret" in volume:
                reference = volume["secret"]["secretName"]
                check(reference in secrets or documented_secret(reference), where,
                      f"{label}: Secret {reference} is neither rendered nor created in deploy/README.md "
                      f"(kubectl create secret generic {reference})")
        port_names, container_names = set(), set()
        for container in list(pod.get("initContainers") or []) + list(pod.get("containers") or []):
            cname = container["name"]
            where_container = f"{label}, container {cname}"
            check(is_dns_label(cname) and cname not in container_names, where, f"{where_container}: the name is not a unique DNS label")
            container_names.add(cname)
            numbers = set()
            for port in container.get("ports") or []:
                if "name" in port:
                    check(is_port_name(port["name"]) and port["name"] not in port_names, where,
                          f"{where_container}: port name {port['name']} is not a unique IANA service name (at most 15)")
                    port_names.add(port["name"])
                check(port["containerPort"] not in numbers, where, f"{where_container}: port {port['containerPort']} twice")
                numbers.add(port["containerPort"])
                check(port.get("protocol", "TCP") in ("TCP", "UDP", "SCTP"), where, f"{where_container}: protocol {port.get('protocol')}")
            check(container.get("imagePullPolicy", "IfNotPresent") in ("Always", "IfNotPresent", "Never"), where,
                  f"{where_container}: imagePullPolicy {container.get('imagePullPolicy')}")
            mount_paths = set()
            for mount in container.get("volumeMounts") or []:
                check(mount["name"] in volumes or mount["name"] in claims, where,
                      f"{where_container}: mounts {mount['name']}, which is neither a volume nor a volumeClaimTemplate")
                check(mount["mountPath"] not in mount_paths and mount["mountPath"].startswith("/"), where,
                      f"{where_container}: mountPath {mount['mountPath']} is not a unique absolute path")
                mount_paths.add(mount["mountPath"])
            defined = set()
            for item in container.get("env") or []:
                check(ENV_NAME.match(item["name"]) is not None, where, f"{where_container}: env name {item['name']!r} is invalid")
                for reference in VARIABLE_REFERENCE.findall(item.get("value", "")):
                    check(reference in defined, where, f"{where_container}: env {item['name']} uses $({reference}), "
                          "which is not defined before it (the kubelet would leave it unexpanded)")
                field = ((item.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
                if field is not None:
                    check(field in ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
                                    "status.hostIP", "status.podIP", "status.podIPs") or field.startswith(("metadata.labels['", "metadata.annotations['")),
                          where, f"{where_container}: env {item['name']}: fieldRef {field} is not supported")
                defined.add(item["name"])
            for word in list(container.get("command") or []) + list(container.get("args") or []):
                for reference in VARIABLE_REFERENCE.findall(word):
                    check(reference in defined, where, f"{where_container}: $({reference}) in its command line is not one of its "
                          "env variables (the kubelet would pass it unexpanded)")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                handler = container.get(probe) or {}
                for kind in ("httpGet", "tcpSocket", "grpc"):
                    if kind in handler:
                        reference = handler[kind]["port"]
                        check(any(reference in (port.get("name"), port.get("containerPort")) for port in container.get("ports") or []),
                              where, f"{where_container}: {probe} asks port {reference}, which the container does not declare")

    for service in services.values():
        name = service["metadata"]["name"]
        spec = service["spec"]
        label = f"Service {name}"
        check(spec.get("type", "ClusterIP") in ("ClusterIP", "NodePort", "LoadBalancer"), where, f"{label}: type {spec.get('type')}")
        if "externalTrafficPolicy" in spec:
            check(spec.get("type") in ("NodePort", "LoadBalancer"), where, f"{label}: externalTrafficPolicy needs type NodePort or LoadBalancer")
        selected = [pod for pod in pods if selects_labels(spec.get("selector"), pod.labels)]
        check(bool(selected), where, f"{label}: its selector {spec.get('selector')} selects no pod")
        ports = spec.get("ports") or []
        names = [port.get("name") for port in ports]
        check(len(ports) <= 1 or (all(names) and len(set(names)) == len(names)), where, f"{label}: several ports need unique names")
        for port in ports:
            if port.get("name") is not None:
                check(is_port_name(port["name"]), where, f"{label}: port name {port['name']} is not an IANA service name")
            target = port.get("targetPort", port["port"])
            for pod in selected:
                check(pod.port(target) is not None, where, f"{label} targets port {target}, which pod {pod.name} does not have")

    for policy in by_kind.get("NetworkPolicy", {}).values():
        label = f"NetworkPolicy {policy['metadata']['name']}"
        selected = [pod for pod in pods if selects(policy["spec"].get("podSelector"), pod.labels)]
        check(bool(selected), where, f"{label}: its podSelector selects no pod")
        check(set(policy["spec"].get("policyTypes") or ["Ingress"]) <= {"Ingress", "Egress"}, where, f"{label}: policyTypes")
        for rule in policy["spec"].get("ingress") or []:
            for port in rule.get("ports") or []:
                if isinstance(port.get("port"), str):
                    check(all(pod.port(port["port"]) is not None for pod in selected), where,
                          f"{label}: named port {port['port']} is missing on some pod it selects")
    for budget in by_kind.get("PodDisruptionBudget", {}).values():
        label = f"PodDisruptionBudget {budget['metadata']['name']}"
        check(any(selects(budget["spec"].get("selector"), pod.labels) for pod in pods), where, f"{label}: its selector selects no pod")
        check(("maxUnavailable" in budget["spec"]) != ("minAvailable" in budget["spec"]), where,
              f"{label}: set exactly one of maxUnavailable and minAvailable")
    return by_kind


def admitted(pod, port_number, port_name, policies):
    """The ingress rules admitting TCP to this port of the pod: None when no policy selects the pod (all traffic
    is admitted), else the list of each admitting rule's `from` peers ([] = from anywhere)."""
    selecting = [policy for policy in policies if selects(policy["spec"].get("podSelector"), pod.labels)
                 and "Ingress" in (policy["spec"].get("policyTypes") or ["Ingress"])]
    if not selecting:
        return None
    rules = []
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports") or []
            if not ports or any(port.get("protocol", "TCP") == "TCP" and (
                    port.get("port") is None or port.get("port") in (port_number, port_name)
                    or (isinstance(port.get("port"), int) and port["port"] <= port_number <= port.get("endPort", port["port"])))
                    for port in ports):
                rules.append(rule.get("from") or [])
    return rules


# What each binary a container may run reads: its environment variables and options (from --help), and the
# configuration keys that are paths, state and listeners. secagg-root is checked only when it is built: without
# it every root configuration counts as failing (fail closed).
root_binary = os.path.join(BIN, "secagg-root")
programs = {"secaggd": {"binary": os.path.join(BIN, "secaggd"), "prefix": "SECAGGD_", "variables": daemon_variables,
                        "options": daemon_options, "config_variable": "SECAGGD_CONFIG",
                        "paths": ["identity", "enrollment.file", "results_directory", "store.path", "audit.path"],
                        "state": ["results_directory", "store.path", "audit.path"],
                        "listeners": {"listen": 7461, "admin": 7462, "metrics": 9461}}}
root_help = run(root_binary, "--help") if os.access(root_binary, os.X_OK) else None
programs["secagg-root"] = {"binary": root_binary, "prefix": "SECAGG_ROOT_", "config_variable": "SECAGG_ROOT_CONFIG",
                           "variables": set(re.findall(r"\bSECAGG_ROOT_[A-Z_]+\b", root_help.stdout)) if root_help else None,
                           "options": set(re.findall(r"(--[a-z][a-z-]*)", root_help.stdout)) if root_help else None,
                           "paths": ["identity", "store.path"], "state": ["store.path"],
                           "listeners": {"admin": 7463, "metrics": 9463}}
root_missing = f"{root_binary} is not built (swift build --product secagg-root): the root's configuration cannot be checked"


def lookup(config, dotted):
    value = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


scratch_keys = {}


def scratch_key(name):
    """A scratch identity per pod (or per placeholder name): (file, public key)."""
    if name not in scratch_keys:
        path = os.path.join(scratch, "keys", f"{name}.key")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        public = run(os.path.join(BIN, "secagg"), "keygen", "--out", path).stdout.strip()
        scratch_keys[name] = (path, public)
    return scratch_keys[name]


def placeholder_keys(text, aliases):
    """Replaces each REPLACE-WITH-NAME-PUBLIC-KEY with the scratch public key of NAME (a pod, or an alias such as
    ROOT for the root's pod), as an operator replaces it with the real one."""
    return PLACEHOLDER.sub(lambda match: scratch_key(aliases.get(match.group(1), match.group(1).lower()))[1], text)


class PodFileSystem:
    """A copy of what the main container of a pod sees: each volume a scratch folder (a claim group-writable, as
    fsGroup leaves it; a ConfigMap its files; a Secret the pod's scratch key under every name the init containers
    ask for), after the init containers' `install` commands ran there."""

    def __init__(self, where, pod, container, configmaps):
        self.root = os.path.join(scratch, "pods", str(id(pod.workload)), pod.name)
        self.volumes = {}
        workload = pod.workload
        claims = {claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates") or []}
        volumes = {volume["name"]: volume for volume in pod.spec.get("volumes") or []}
        for name in set(volumes) | claims:
            folder = os.path.join(self.root, "volumes", name)
            os.makedirs(folder, exist_ok=True)
            volume = volumes.get(name, {})
            if name in claims:
                os.chmod(folder, 0o2775)
            elif "configMap" in volume:
                for key, value in (configmaps.get(volume["configMap"]["name"], {}).get("data") or {}).items():
                    with open(os.path.join(folder, key), "w", encoding="utf-8") as handle:
                        handle.write(value)
                os.chmod(folder, 0o755)
            else:
                os.chmod(folder, 0o777)
            self.volumes[name] = (folder, volume)
        self.secret_keys = []
        for init in pod.spec.get("initContainers") or []:
            environment = {"POD_NAME": pod.name} if any(item["name"] == "POD_NAME" for item in init.get("env") or []) else {}
            for item in init.get("env") or []:
                if "value" in item:
                    environment[item["name"]] = item["value"]
            words = [expand(word, environment) for word in (init.get("command") or []) + (init.get("args") or [])]
            label = f"StatefulSet {workload['metadata']['name']}, init container {init['name']}"
            for path in [word for word in words if word.startswith("/")]:
                check(self.host(init, path) is not None, where, f"{label}: {path} is on no mounted volume")
            if words[:1] != ["install"]:
                continue
            mode = words[words.index("-m") + 1] if "-m" in words else None
            operands = [word for position, word in enumerate(words[1:], 1) if not word.startswith("-") and words[position - 1] != "-m"]
            if "-d" in words:
                for folder in operands:
                    host = self.host(init, folder)
                    if host:
                        os.makedirs(host, exist_ok=True)
                        os.chmod(host, int(mode or "0755", 8))
            elif len(operands) == 2 and all(self.host(init, operand) for operand in operands):
                source, target = operands
                check(mode == "0600", where, f"{label}: copies {source} with mode {mode}; the programs refuse keys others can read")
                volume = self.volume_of(init, source)
                if volume and "secret" in volume:
                    self.secret_keys.append((volume["secret"]["secretName"], os.path.basename(source)))
                    shutil.copyfile(scratch_key(pod.name)[0], self.host(init, target))
                else:
                    shutil.copyfile(self.host(init, source), self.host(init, target))
                os.chmod(self.host(init, target), int(mode or "0644", 8))

    def mount(self, container, path):
        best = None
        for mount in container.get("volumeMounts") or []:
            base = mount["mountPath"].rstrip("/") or "/"
            if (path == base or path.startswith(base + "/")) and (best is None or len(base) > len(best["mountPath"])):
                best = mount
        return best

    def volume_of(self, container, path):
        mount = self.mount(container, path)
        return self.volumes[mount["name"]][1] if mount else None

    def host(self, container, path):
        """The scratch path of a path the container sees, or None when it is on no mount."""
        mount = self.mount(container, path)
        if mount is None:
            return None
        return self.volumes[mount["name"]][0] + path[len(mount["mountPath"].rstrip("/")):]

    def translate(self, container, text):
        """Every absolute path in a text (a configuration, an argument) that lies on a mount, as a scratch path."""
        return re.sub(r"(?<![\w.:/-])(/[A-Za-z0-9._/-]+)", lambda match: self.host(container, match.group(1)) or match.group(1), text)


def service_links(services):
    """The variables the kubelet injects for each Service with a cluster IP when enableServiceLinks is on."""
    variables = {}
    for service in services.values():
        if service["spec"].get("clusterIP") == "None":
            continue
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        variables[f"{prefix}_SERVICE_HOST"] = "10.0.0.1"
        for position, port in enumerate(service["spec"].get("ports") or []):
            protocol = port.get("protocol", "TCP")
            if position == 0:
                variables[f"{prefix}_SERVICE_PORT"] = str(port["port"])
                variables[f"{prefix}_PORT"] = f"{protocol.lower()}://10.0.0.1:{port['port']}"
            if port.get("name"):
                variables[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port["port"])
            base = f"{prefix}_PORT_{port['port']}_{protocol}"
            variables.update({base: f"{protocol.lower()}://10.0.0.1:{port['port']}", f"{base}_PROTO": protocol.lower(),
                              f"{base}_PORT": str(port["port"]), f"{base}_ADDR": "10.0.0.1"})
    return variables


def run_check_config(where, label, program, pod, container, filesystem, services, text_override=None):
    """Runs PROGRAM --check-config --skip-port-check as the container would start it, in the pod's scratch file
    system. Returns (the configuration as parsed, the configuration's path in the container, the result)."""
    settings = programs[program]
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("SECAGGD_", "SECAGG_ROOT_"))}
    if pod.spec.get("enableServiceLinks", True):
        environment.update(service_links(services))
    container_env = {"POD_NAME": pod.name}
    for item in container.get("env") or []:
        if "value" in item:
            container_env[item["name"]] = expand(item["value"], container_env)
            environment[item["name"]] = filesystem.translate(container, container_env[item["name"]])
    arguments = [expand(word, container_env) for word in container.get("args") or []]
    config_path = arguments[arguments.index("--config") + 1] if "--config" in arguments else container_env.get(settings["config_variable"])
    if not check(config_path is not None and filesystem.host(container, config_path) is not None, where,
                 f"{label}: the configuration ({config_path}) is on no mount"):
        return None, None, None
    host_config = filesystem.host(container, config_path)
    if not check(os.path.isfile(host_config), where, f"{label}: no file {config_path} in the mounted ConfigMap"):
        return None, None, None
    with open(host_config, encoding="utf-8") as handle:
        text = handle.read()
    config = yaml.safe_load(text)
    text = text_override(text) if text_override else text
    translated = filesystem.translate(container, text)
    checked = host_config + ".checked.yaml"
    with open(checked, "w", encoding="utf-8") as handle:
        handle.write(translated)
    arguments = [filesystem.translate(container, word) for word in arguments]
    if "--config" in arguments:
        arguments[arguments.index("--config") + 1] = checked
    else:
        environment[settings["config_variable"]] = checked
    if not os.access(settings["binary"], os.X_OK):
        problem(where, f"{label}: {root_missing if program == 'secagg-root' else settings['binary'] + ' is missing'}")
        return config, config_path, None
    result = run(settings["binary"], *arguments, "--check-config", "--skip-port-check", env=environment)
    if os.environ.get("DEPLOY_CHECK_VERBOSE"):
        overrides = {key: value for key, value in environment.items() if key not in os.environ or key.startswith(("SECAGGD_", "SECAGG_ROOT_"))}
        print(f"deploy check: {label}: {shlex.join([settings['binary'], *arguments, '--check-config', '--skip-port-check'])}"
              f" with {overrides} -> exit {result.returncode}\n{result.stdout}{result.stderr}", file=sys.stderr)
    return config, config_path, result


def check_workloads(where, by_kind, pods):
    """The containers, their configurations and the network policies of each workload, as secaggd and secagg-root
    will see them. Returns what the sharded checks need: per program, (workload, pod, container, configuration)."""
    services = by_kind.get("Service", {})
    configmaps = by_kind.get("ConfigMap", {})
    policies = list(by_kind.get("NetworkPolicy", {}).values())
    found = {}
    aliases = {"ROOT": f"{name}-0" for name in by_kind.get("StatefulSet", {})
               if any(os.path.basename((c.get("command") or [ENTRYPOINT])[0]) == "secagg-root"
                      for c in by_kind["StatefulSet"][name]["spec"]["template"]["spec"]["containers"])}
    for workload in by_kind.get("StatefulSet", {}).values():
        name = workload["metadata"]["name"]
        spec = workload["spec"]
        pod_spec = spec["template"]["spec"]
        label = f"StatefulSet {name}"
        context = pod_spec.get("securityContext") or {}
        check(context.get("runAsNonRoot") is True and context.get("runAsUser", 0) != 0, where, f"{label}: the pod must run as non-root")
        check((context.get("seccompProfile") or {}).get("type") == "RuntimeDefault", where, f"{label}: seccompProfile must be RuntimeDefault")
        check(pod_spec.get("automountServiceAccountToken") is False, where, f"{label}: automountServiceAccountToken must be false")
        for container in pod_spec.get("initContainers", []) + pod_spec["containers"]:
            cname = container["name"]
            where_container = f"{label}, container {cname}"
            check(container.get("image") == IMAGE, where, f"{where_container}: the image is {container.get('image')}, not {IMAGE} (rename it in kustomization.yaml)")
            check(container.get("imagePullPolicy") in ("IfNotPresent", "Never"), where,
                  f"{where_container}: imagePullPolicy must be IfNotPresent or Never (with :latest the default is Always: a local image is pulled)")
            resources = container.get("resources") or {}
            check({"cpu", "memory"} <= set(resources.get("limits") or {}) and {"cpu", "memory"} <= set(resources.get("requests") or {}),
                  where, f"{where_container}: needs cpu and memory requests and limits")
            security = container.get("securityContext") or {}
            check(security.get("allowPrivilegeEscalation") is False, where, f"{where_container}: allowPrivilegeEscalation must be false")
            check(security.get("readOnlyRootFilesystem") is True, where, f"{where_container}: readOnlyRootFilesystem must be true")
            check((security.get("capabilities") or {}).get("drop") == ["ALL"], where, f"{where_container}: capabilities must drop ALL")
        workload_pods = [pod for pod in pods if pod.workload is workload]
        for container in pod_spec["containers"]:
            program_path = (container.get("command") or [ENTRYPOINT])[0]
            program = os.path.basename(program_path)
            where_container = f"{label}, container {container['name']}"
            if not check(program in programs and (program_path in image_binaries or "/usr/local/bin/" + program_path in image_binaries),
                         where, f"{where_container} runs {program_path}, which the image (Containerfile's runtime stage) does not have"):
                continue
            settings = programs[program]
            check(container.get("command") is None or len(container["command"]) == 1, where,
                  f"{where_container}: give the options in args, not command")
            if settings["options"] is None:
                problem(where, f"{where_container}: {root_missing}")
            else:
                for flag in container.get("args") or []:
                    if flag.startswith("--"):
                        check(flag.split("=")[0] in settings["options"], where, f"{where_container}: {program} has no option {flag}")
                for item in container.get("env") or []:
                    if item["name"].startswith(settings["prefix"]):
                        check(item["name"] in settings["variables"], where,
                              f"{where_container}: {item['name']} is not a variable {program} knows ({program} --help)")
                if pod_spec.get("enableServiceLinks", True):
                    injected = [variable for variable in service_links(services) if variable.startswith(settings["prefix"])]
                    check(not injected, where, f"{label}: the Services inject {', '.join(sorted(injected)[:3])}…, which {program} "
                          "refuses as unknown variables: set enableServiceLinks: false")
            identity_copies = [init for init in pod_spec.get("initContainers") or [] if "$(" in " ".join(init.get("command") or [])]
            if program == "secagg-root":
                check(spec.get("replicas") == 1, where, f"{label}: the root is a single writer of its store: replicas must be 1")
            elif not identity_copies:
                check(spec.get("replicas") == 1, where, f"{label}: replicas {spec.get('replicas')} with one identity for every pod; "
                      "a coordinator is a single writer (or give each pod its key by its name, as the shards do)")
            for pod in workload_pods[:1]:
                filesystem = PodFileSystem(where, pod, container, configmaps)
                for secret, key in filesystem.secret_keys:
                    rendered = by_kind.get("Secret", {}).get(secret)
                    check(key in ((rendered or {}).get("stringData") or {}) or key in ((rendered or {}).get("data") or {})
                          or (rendered is None and documented_secret(secret, [key])), where,
                          f"{label}: the init container reads {key} from Secret {secret}, which deploy/README.md does not create")
                has_placeholders = False

                def substitute(text):
                    nonlocal has_placeholders
                    has_placeholders = PLACEHOLDER.search(text) is not None
                    return placeholder_keys(text, aliases)
                config, config_path, result = run_check_config(where, f"{where_container} (pod {pod.name})", program, pod, container,
                                                               filesystem, services, substitute)
                if config is None:
                    continue
                config_where = f"{where} ({config_path})"
                if result is not None:
                    check(result.returncode == 0, where, f"{where_container} (pod {pod.name}): {program} --check-config fails on "
                          f"{config_path}:\n{result.stdout}{result.stderr}")
                    if has_placeholders:
                        # An operator who forgets to replace a placeholder gets a daemon that refuses to start.
                        unreplaced = run_check_config(where, label, program, pod, container, filesystem, services)[2]
                        check(unreplaced is not None and unreplaced.returncode != 0, where,
                              f"{where_container}: {program} accepts {config_path} with its REPLACE-WITH-… placeholders")
                found.setdefault(program, []).append((workload, pod, container, config))
                for key in settings["paths"]:
                    value = lookup(config, key)
                    if value is not None:
                        check(str(value).startswith("/") and filesystem.mount(container, str(value)) is not None, config_where,
                              f"{key} {value} is not an absolute path on one of {container['name']}'s mounts")
                claims = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates") or []}
                for key in settings["state"]:
                    value = lookup(config, key)
                    if value is None:
                        continue
                    mount = filesystem.mount(container, str(value))
                    check(mount is not None and mount["name"] in claims, config_where, f"{key} {value} is not on the persistent volume")
                    if mount is not None and mount["name"] in claims:
                        check(os.path.dirname(str(value)).rstrip("/") != mount["mountPath"].rstrip("/"), config_where,
                              f"{key} {value} is at the volume's root, which fsGroup makes group-writable: use the 0700 folder the init container makes")
                enrollment = lookup(config, "enrollment.file")
                if enrollment is not None:
                    volume = filesystem.volume_of(container, enrollment)
                    check(volume is not None and "configMap" in volume, config_where, f"the enrollment file {enrollment} is not in a ConfigMap")
                identity = lookup(config, "identity")
                check(any(identity is not None and filesystem.host(init, identity) is not None
                          and filesystem.volume_of(container, identity) is filesystem.volume_of(init, identity)
                          and identity in (init.get("command") or []) for init in pod_spec.get("initContainers") or []), config_where,
                      f"identity {identity} is not where an init container copies the key to")
                ports = {port["containerPort"]: port for port in container.get("ports") or []}
                listeners = {}
                for section, default_port in settings["listeners"].items():
                    block = config.get(section)
                    if section == "admin" and block is None:
                        continue
                    if section == "metrics" and not (block or {}).get("enabled"):
                        problem(config_where, "metrics.enabled must be true: the probes ask /healthz and /readyz on the metrics port")
                        continue
                    block = block or {}
                    port = block.get("port", default_port)
                    listeners[section] = port
                    check(block.get("host", "127.0.0.1") == "0.0.0.0", config_where,
                          f"in a pod, {section}.host must be 0.0.0.0 (Services and probes reach the pod's IP)")
                    check(port in ports, where, f"{where_container}: no containerPort for {section}.port {port}")
                check(set(ports) <= set(listeners.values()), where,
                      f"{where_container}: containerPorts {sorted(set(ports) - set(listeners.values()))} are not ports {program} listens on")
                for probe, path in READY_PATHS.items():
                    http = (container.get(probe) or {}).get("httpGet")
                    if check(http is not None, where, f"{where_container}: {probe} must be an httpGet of {path} on the metrics port"):
                        target = http["port"] if isinstance(http["port"], int) else next(
                            (port["containerPort"] for port in ports.values() if port.get("name") == http["port"]), None)
                        check(target == listeners.get("metrics") and http.get("path") == path, where,
                              f"{where_container}: {probe} must ask {path} on the metrics port, not {http.get('path')} on {http['port']}")
                for pod_of_workload in workload_pods:
                    for section, port in listeners.items():
                        rules = admitted(pod_of_workload, port, next((p.get("name") for p in ports.values() if p["containerPort"] == port), None), policies)
                        if not check(rules is not None, where, f"{label}: no NetworkPolicy selects pod {pod_of_workload.name}"):
                            break
                        check_ingress(where, f"{label}: {section} port {port} of pod {pod_of_workload.name}", program, section, rules, pods)
    return found


def check_ingress(where, label, program, section, rules, pods):
    """Who may connect: clients to the client port (anyone: the Noise handshake authenticates them); the scraper
    (`secagg-metrics: allowed`) to metrics; to a shard's admin port only the root's pods (in the namespace); to the
    root's admin port only labelled pods of a named operator namespace."""
    open_to_all = any(peers == [] for peers in rules)
    peers = [peer for rule in rules for peer in rule]
    if section == "listen":
        check(open_to_all, where, f"{label}: clients must be admitted from anywhere")
        return
    check(bool(rules) and not open_to_all and not any("ipBlock" in peer for peer in peers), where,
          f"{label}: admitted from anywhere or by address; admit only selected pods")
    if section == "metrics":
        for peer in peers:
            check((peer.get("podSelector") or {}).get("matchLabels") == {"secagg-metrics": "allowed"}, where,
                  f"{label}: admits {peer}; only pods labelled secagg-metrics: allowed may scrape")
    elif section == "admin" and program == "secaggd":
        roots = [pod for pod in pods if any(os.path.basename((c.get("command") or [ENTRYPOINT])[0]) == "secagg-root" for c in pod.spec["containers"])]
        for peer in peers:
            selected = [pod for pod in pods if selects(peer.get("podSelector"), pod.labels)]
            check("namespaceSelector" not in peer and "podSelector" in peer and selected and all(pod in roots for pod in selected), where,
                  f"{label}: admits {peer}; only the root's pods (same namespace) may reach a shard's admin listener")
        check(bool(roots) or not peers, where, f"{label}: admits pods, but there is no root here")
    elif section == "admin":
        for peer in peers:
            namespaces = peer.get("namespaceSelector")
            check(namespaces is not None and bool(namespaces.get("matchLabels") or namespaces.get("matchExpressions"))
                  and bool((peer.get("podSelector") or {}).get("matchLabels")), where,
                  f"{label}: admits {peer}; admit labelled pods of a named operator namespace only")


def check_sharded(where, by_kind, found, pods):
    """The root's shard list against the shards it will drive: one entry per shard pod, at its per-pod DNS name,
    with its key and the address of its client Service; tasks defined only at the root; a global round policy the
    disruption budget leaves room for."""
    roots, shards = found.get("secagg-root", []), found.get("secaggd", [])
    if not check(len(roots) == 1 and len(shards) == 1, where, "a sharded layout has one secagg-root StatefulSet and one of shards"):
        return
    workload, _, shard_container, shard_config = shards[0]
    _, _, _, root_config = roots[0]
    name = workload["metadata"]["name"]
    replicas = workload["spec"]["replicas"]
    service = by_kind["Service"].get(workload["spec"]["serviceName"], {"metadata": {"name": "?"}})
    shard_pods = [pod for pod in pods if pod.workload is workload]
    entries = root_config.get("shards") or []
    check(len(entries) == replicas, where, f"the root lists {len(entries)} shards, the StatefulSet {name} runs {replicas}")
    check(len({entry.get("name") for entry in entries}) == len(entries), where, "the root's shard names are not unique")
    admin_port = (shard_config.get("admin") or {}).get("port", 7462)
    listen_port = (shard_config.get("listen") or {}).get("port", 7461)
    check(any(PLACEHOLDER.sub(lambda match: match.group(1), key) == "ROOT" for key in (shard_config.get("admin") or {}).get("keys") or []),
          where, "the shards' admin.keys must hold the root's public key (REPLACE-WITH-ROOT-PUBLIC-KEY until you set it)")
    for pod in shard_pods:
        entry = next((entry for entry in entries if entry.get("name") == pod.name), None)
        if not check(entry is not None, where, f"the root does not list shard {pod.name} (each shard is named after its pod)"):
            continue
        host, _, port = str(entry.get("admin", "")).rpartition(":")
        check(re.match(rf"^{re.escape(pod.name)}\.{re.escape(service['metadata']['name'])}(\.[a-z0-9-]+\.svc(\.cluster\.local)?)?$", host)
              is not None and port == str(admin_port), where,
              f"shard {pod.name}: admin {entry.get('admin')} is not {pod.name}.{service['metadata']['name']}:{admin_port} (its DNS name)")
        check(entry.get("key") == f"REPLACE-WITH-{pod.name.upper()}-PUBLIC-KEY", where,
              f"shard {pod.name}: key must be REPLACE-WITH-{pod.name.upper()}-PUBLIC-KEY in the committed layout "
              f"(the operator puts `secagg key show {pod.name}.key` there)")
        client_host, _, client_port = str(entry.get("clients", "")).rpartition(":")
        own = [service for service in by_kind["Service"].values()
               if service["spec"].get("type") in ("LoadBalancer", "NodePort")
               and [candidate for candidate in pods if selects_labels(service["spec"].get("selector"), candidate.labels)] == [pod]]
        if check(len(own) == 1, where, f"shard {pod.name}: expected one LoadBalancer or NodePort Service selecting only its pod, found {len(own)}"):
            ports = own[0]["spec"]["ports"]
            check(any(str(port["port"]) == client_port and pod.port(port.get("targetPort", port["port"])) is not None
                      and pod.port(port.get("targetPort", port["port"]))["containerPort"] == listen_port for port in ports), where,
                  f"shard {pod.name}: Service {own[0]['metadata']['name']} does not forward the root's clients port {client_port} to listen.port {listen_port}")
        check(bool(client_host), where, f"shard {pod.name}: clients {entry.get('clients')} is not HOST:PORT")
    # The root pushes its tasks to every shard (createTask/updateTask); a task in the shards' own file could not be
    # updated that way, and would drift from the root's definition.
    check(not shard_config.get("tasks"), where,
          "the shards' configuration defines tasks: leave them to the root, which pushes its own to every shard")
    check(bool(root_config.get("tasks")), where, "the root's configuration defines no task")
    budgets = [budget for budget in by_kind.get("PodDisruptionBudget", {}).values()
               if any(selects(budget["spec"].get("selector"), pod.labels) for pod in shard_pods)]
    if check(len(budgets) == 1, where, f"expected one PodDisruptionBudget over the shards, found {len(budgets)}"):
        spec = budgets[0]["spec"]
        away = spec["maxUnavailable"] if "maxUnavailable" in spec else replicas - spec.get("minAvailable", replicas)
        check(isinstance(away, int) and away <= 1, where, "the shards' PodDisruptionBudget must let a drain take at most one shard")
        minimum = (root_config.get("global") or {}).get("min_cohorts", 1)
        check(isinstance(away, int) and minimum <= replicas - max(away, 1), where,
              f"global.min_cohorts {minimum} leaves no room for the shard a drain or a rolling update takes away ({replicas} shards)")
    root_pods = [pod for pod in pods if pod.workload is roots[0][0]]
    check(any(any(selects(budget["spec"].get("selector"), pod.labels) for pod in root_pods)
              for budget in by_kind.get("PodDisruptionBudget", {}).values()), where, "no PodDisruptionBudget covers the root")
    check(any(service["spec"].get("publishNotReadyAddresses") and any(port.get("port") == (root_config.get("admin") or {}).get("port", 7463)
                                                                      for port in service["spec"].get("ports") or [])
              and all(selects_labels(service["spec"].get("selector"), pod.labels) for pod in root_pods)
              for service in by_kind["Service"].values()), where,
          "the root's admin port needs a Service with publishNotReadyAddresses: operators need it most while too few shards answer")


os.makedirs(RENDERED, exist_ok=True)
for layout in layouts:
    # The rendered objects go to .build/deploy-check/<layout>.yaml (kubernetes.yaml, sharded-overlays-shards-3.yaml…).
    output = os.path.join(RENDERED, os.path.relpath(layout, DEPLOY).replace("/", "-") + ".yaml")
    where = f"{layout} (rendered: {os.path.relpath(output, ROOT)})"
    rendered = run(kubectl, "kustomize", layout)
    if not check(rendered.returncode == 0, layout, f"kubectl kustomize fails:\n{rendered.stderr}"):
        continue
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(rendered.stdout)
    objects = [document for document in yaml.safe_load_all(rendered.stdout) if document is not None]
    pods = [Pod(workload, ordinal) for workload in objects if workload.get("kind") == "StatefulSet"
            for ordinal in range(workload["spec"].get("replicas", 1))]
    by_kind = check_api(where, objects, pods)
    check(set(by_kind) <= {"StatefulSet", "Service", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "Secret"}, where,
          f"unexpected kinds {sorted(set(by_kind) - {'StatefulSet', 'Service', 'ConfigMap', 'NetworkPolicy', 'PodDisruptionBudget', 'Secret'})}")
    found = check_workloads(where, by_kind, pods)
    if "secagg-root" in found or os.path.relpath(layout, K8S).startswith("sharded"):
        check_sharded(where, by_kind, found, pods)

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
