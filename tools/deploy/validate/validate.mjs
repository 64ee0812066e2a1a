#!/usr/bin/env node
// Renders kustomizations with `kubectl kustomize` and validates every object
// against the upstream Kubernetes OpenAPI schemas (kubernetes-models, pinned
// in package.json and installed by tools/bootstrap), then checks what the
// schemas cannot: that the objects refer to each other (ConfigMap volumes,
// service accounts, role bindings) and, for tools/deploy's own overlays, that
// the ConfigMap holds the config.conf the unit tests read through `kubenat
// run`'s flag parser (tests/tools/deploy_manifests_test.cpp), byte for byte.
//
//   node validate.mjs                   base and every overlay of tools/deploy
//   node validate.mjs DIR...            these kustomizations
//
// One line per object; exit status 1 when any rendering or object fails.
// The schemas allow fields they do not name, as the API server does without
// strict field validation: a misspelt optional field is not caught here.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const deployDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sourceDir = resolve(deployDir, "../..");

let YAML, models;
try {
  YAML = await import("yaml");
  models = {
    "v1/ConfigMap": (await import("kubernetes-models/v1")).ConfigMap,
    "v1/ServiceAccount": (await import("kubernetes-models/v1")).ServiceAccount,
    "apps/v1/DaemonSet": (await import("kubernetes-models/apps/v1")).DaemonSet,
    "rbac.authorization.k8s.io/v1/ClusterRole": (await import("kubernetes-models/rbac.authorization.k8s.io/v1"))
      .ClusterRole,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": (await import("kubernetes-models/rbac.authorization.k8s.io/v1"))
      .ClusterRoleBinding,
  };
} catch (error) {
  console.error(`validate: ${error.message}\nvalidate: run tools/bootstrap (npm ci in ${dirname(fileURLToPath(import.meta.url))})`);
  process.exit(1);
}

// The ClusterRoles every API server creates (bootstrappolicy), which a
// binding may name without the rendering holding them.
const builtInClusterRoles = new Set(["system:node-proxier", "cluster-admin", "view", "edit", "admin"]);

function kustomizations() {
  const overlays = join(deployDir, "overlays");
  return [
    join(deployDir, "base"),
    ...readdirSync(overlays, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(overlays, entry.name))
      .sort(),
  ];
}

function render(dir) {
  return execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function objectName(object) {
  const metadata = object?.metadata ?? {};
  const name = metadata.namespace ? `${metadata.namespace}/${metadata.name}` : `${metadata.name}`;
  return `${object?.kind ?? "(no kind)"} ${name}`;
}

// Problems the schema cannot see: references between the rendered objects.
function referenceProblems(object, rendered) {
  const has = (kind, name, namespace) =>
    rendered.some((o) => o.kind === kind && o.metadata?.name === name && o.metadata?.namespace === namespace);
  const problems = [];
  if (object.kind === "DaemonSet") {
    const namespace = object.metadata?.namespace;
    const pod = object.spec?.template?.spec ?? {};
    for (const [i, volume] of (pod.volumes ?? []).entries()) {
      if (volume.configMap && !has("ConfigMap", volume.configMap.name, namespace)) {
        problems.push(`spec.template.spec.volumes[${i}].configMap.name: no ConfigMap ${volume.configMap.name}`);
      }
    }
    if (pod.serviceAccountName && !has("ServiceAccount", pod.serviceAccountName, namespace)) {
      problems.push(`spec.template.spec.serviceAccountName: no ServiceAccount ${pod.serviceAccountName}`);
    }
    const selector = object.spec?.selector?.matchLabels ?? {};
    const labels = object.spec?.template?.metadata?.labels ?? {};
    for (const [key, value] of Object.entries(selector)) {
      if (labels[key] !== value) problems.push(`spec.selector.matchLabels.${key}: the pod template is not labelled ${value}`);
    }
  }
  if (object.kind === "ClusterRoleBinding") {
    const role = object.roleRef?.name;
    if (!builtInClusterRoles.has(role) && !has("ClusterRole", role, undefined)) {
      problems.push(`roleRef.name: no ClusterRole ${role}`);
    }
    for (const [i, subject] of (object.subjects ?? []).entries()) {
      if (subject.kind === "ServiceAccount" && !has("ServiceAccount", subject.name, subject.namespace)) {
        problems.push(`subjects[${i}]: no ServiceAccount ${subject.namespace}/${subject.name}`);
      }
    }
  }
  return problems;
}

// tools/deploy's own overlays: the ConfigMap carries the overlay's
// config.conf (or the base's), and the image is tagged with the version.
function deployProblems(object, dir) {
  const problems = [];
  if (object.kind === "ConfigMap" && object.data?.["config.conf"] !== undefined) {
    const own = join(dir, "config.conf");
    const source = existsSync(own) ? own : join(deployDir, "base/config.conf");
    if (object.data["config.conf"] !== readFileSync(source, "utf8")) {
      problems.push(`data.config.conf: differs from ${relative(sourceDir, source)}`);
    }
  }
  if (object.kind === "DaemonSet") {
    const version = /project\(kubenat VERSION ([0-9.]+)/.exec(readFileSync(join(sourceDir, "CMakeLists.txt"), "utf8"))?.[1];
    for (const [i, container] of (object.spec?.template?.spec?.containers ?? []).entries()) {
      if (version && container.image !== `kubenat:${version}`) {
        problems.push(`spec.template.spec.containers[${i}].image: ${container.image}, not kubenat:${version}`);
      }
    }
  }
  return problems;
}

function validate(dir, ownDeploy) {
  const label = relative(sourceDir, dir) || dir;
  let text;
  try {
    text = render(dir);
  } catch (error) {
    console.log(`FAIL ${label}: kubectl kustomize: ${(error.stderr || error.message).trim()}`);
    return { passed: 0, failed: 1 };
  }
  const documents = YAML.parseAllDocuments(text);
  const rendered = [];
  for (const document of documents) {
    if (document.errors.length > 0) {
      console.log(`FAIL ${label}: YAML: ${document.errors[0].message}`);
      return { passed: 0, failed: 1 };
    }
    const object = document.toJS();
    if (object !== null) rendered.push(object);
  }
  if (rendered.length === 0) {
    console.log(`FAIL ${label}: renders no object`);
    return { passed: 0, failed: 1 };
  }
  let passed = 0;
  let failed = 0;
  for (const object of rendered) {
    const Model = models[`${object.apiVersion}/${object.kind}`];
    const problems = [];
    if (!Model) {
      problems.push(`${object.apiVersion} ${object.kind} is not a kind these manifests may hold`);
    } else {
      try {
        new Model(object).validate();
      } catch (error) {
        problems.push(error.message.replace(/\bdata\//g, "").replace(/\//g, "."));
      }
      problems.push(...referenceProblems(object, rendered));
      if (ownDeploy) problems.push(...deployProblems(object, dir));
    }
    if (problems.length === 0) {
      console.log(`ok   ${label}: ${objectName(object)}`);
      passed++;
    } else {
      console.log(`FAIL ${label}: ${objectName(object)}: ${problems.join("; ")}`);
      failed++;
    }
  }
  return { passed, failed };
}

const args = process.argv.slice(2);
const dirs = args.length > 0 ? args.map((dir) => resolve(dir)) : kustomizations();
let passed = 0;
let failed = 0;
for (const dir of dirs) {
  const result = validate(dir, !relative(deployDir, dir).startsWith(".."));
  passed += result.passed;
  failed += result.failed;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
