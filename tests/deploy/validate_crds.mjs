// Validates ServiceMonitor and PrometheusRule objects (a JSON array on stdin)
// against the Prometheus Operator's CRD schemas, as compiled by the npm
// package @kubernetes-models/prometheus-operator (offline). Run from the
// folder `make deploy-tools` installs it in; prints one line per object,
// exits 1 if any is invalid. Used by tests/deploy/test_deploy_files.py.
import { readFileSync } from "node:fs";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = { PrometheusRule, ServiceMonitor };
let invalid = 0;
for (const doc of JSON.parse(readFileSync(0, "utf8"))) {
  const where = `${doc.kind}/${doc.metadata.name}`;
  try {
    if (!models[doc.kind]) throw new Error("no schema for this kind");
    new models[doc.kind](doc).validate();
    console.log(`valid ${where}`);
  } catch (e) {
    invalid++;
    console.log(`${where}: ${e.message}`);
  }
}
process.exit(invalid ? 1 : 0);
