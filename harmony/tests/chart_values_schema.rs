//! The values each Score generates, merged over the pinned chart's default `values.yaml` the way
//! Helm merges them, must validate against that chart's `values.schema.json` (vendored in
//! `tests/fixtures/charts/<chart>-<version>/`), for every distribution flavour and option.
//!
//! The Zitadel schema refers to remote Kubernetes JSON schemas (yannh/kubernetes-json-schema);
//! offline, those `$ref`s are treated as "any value".

use std::path::PathBuf;

use harmony::modules::openbao::OpenbaoScore;
use harmony::modules::postgresql::cnpg::{CNPG_CHART_VERSION, operator_chart};
use harmony::modules::zitadel::{DbEndpoint, ZITADEL_CHART_VERSION, ZitadelFlavor, ZitadelScore};
use serde_json::Value;

fn fixture(chart: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/charts")
        .join(chart)
        .join(file)
}

/// Replaces every object holding a remote `$ref` by `{}` (accepts anything).
fn offline(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map
                .get("$ref")
                .and_then(Value::as_str)
                .is_some_and(|r| r.starts_with("http://") || r.starts_with("https://"))
            {
                *schema = Value::Object(Default::default());
                return;
            }
            map.values_mut().for_each(offline);
        }
        Value::Array(items) => items.iter_mut().for_each(offline),
        _ => {}
    }
}

/// Helm's merge of user values over chart defaults: maps merge key by key, anything else
/// replaces, and `null` removes the default.
fn helm_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else if let Some(existing) = b.get_mut(k) {
                    helm_merge(existing, v);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Merges `values` over the chart's defaults and validates; returns the schema errors.
fn validate(chart: &str, values: &Value) -> Vec<String> {
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(chart, "values.schema.json")).unwrap(),
    )
    .unwrap();
    offline(&mut schema);
    let mut merged: Value =
        serde_norway::from_str(&std::fs::read_to_string(fixture(chart, "values.yaml")).unwrap())
            .unwrap();
    helm_merge(&mut merged, values);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{chart}: the vendored schema does not compile: {e}"));
    validator
        .iter_errors(&merged)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_schemas_catch_a_wrong_value() {
    // Guards the test itself: a value of the wrong type must be refused by each schema.
    let errors = validate(
        &format!("openbao-{}", OpenbaoScore::default().chart_version),
        &serde_json::json!({"server": {"ingress": {"enabled": "yes"}}}),
    );
    assert!(
        !errors.is_empty(),
        "openbao schema accepted a string for a bool"
    );
    let errors = validate(
        &format!("zitadel-{ZITADEL_CHART_VERSION}"),
        &serde_json::json!({"replicaCount": "three"}),
    );
    assert!(
        !errors.is_empty(),
        "zitadel schema accepted a string for a count"
    );
    let errors = validate(
        &format!("cloudnative-pg-{CNPG_CHART_VERSION}"),
        &serde_json::json!({"replicaCount": "three"}),
    );
    assert!(
        !errors.is_empty(),
        "cnpg schema accepted a string for a count"
    );
}

#[test]
fn openbao_values_fit_the_chart_schema_on_every_flavour() {
    for openshift in [false, true] {
        let score = OpenbaoScore {
            openshift,
            host: if openshift {
                "bao.apps.example.com".into()
            } else {
                "bao.harmony.local".into()
            },
            ..Default::default()
        };
        let chart = format!("openbao-{}", score.chart_version);
        let errors = validate(&chart, &score.helm_values());
        assert!(errors.is_empty(), "openshift={openshift}: {errors:#?}");
    }
}

#[test]
fn zitadel_values_fit_the_chart_schema_on_every_flavour() {
    let flavours = [
        ZitadelFlavor::Plain,
        ZitadelFlavor::OpenShift {
            cluster_issuer: "letsencrypt-prod".into(),
        },
    ];
    // The init step connects as the superuser when CNPG has one, else as the owner.
    let dbs = [
        ("zitadel-pg-superuser", "superuser"),
        ("zitadel-pg-app", "owner"),
    ];
    for flavour in &flavours {
        for (admin_secret, label) in dbs {
            let score = ZitadelScore::default();
            let db = DbEndpoint {
                host: "zitadel-pg-rw.zitadel.svc.cluster.local".into(),
                port: 5432,
                app_secret: "zitadel-pg-app".into(),
                admin_secret: admin_secret.into(),
            };
            let chart = format!("zitadel-{}", score.chart_version);
            let errors = validate(&chart, &score.helm_values(flavour, &db));
            assert!(errors.is_empty(), "{flavour:?}, {label} admin: {errors:#?}");
        }
    }
}

#[test]
fn cnpg_operator_values_fit_the_chart_schema() {
    let chart = operator_chart();
    let errors = validate(
        &format!("cloudnative-pg-{}", chart.chart_version),
        &chart.values,
    );
    assert!(errors.is_empty(), "{errors:#?}");
}
