//! #[derive(Config)]: keys, secret fields, manual impls, and compile errors (trybuild).

use harmony_config::Config;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JsonSchema, Config)]
struct DefaultKey {
    host: String,
}

#[derive(Serialize, Deserialize, JsonSchema, Config)]
#[config(key = "custom-key")]
struct CustomKey {
    host: String,
    #[config(secret)]
    password: String,
    #[serde(rename = "apiToken")]
    #[config(secret)]
    api_token: String,
    r#type: String,
}

/// The seed's openbao_chain example implements the trait by hand; that must keep working.
#[derive(Serialize, Deserialize, JsonSchema)]
struct Manual {
    host: String,
}

impl harmony_config::Config for Manual {
    const KEY: &'static str = "Manual";
}

#[test]
fn key_defaults_to_the_type_name() {
    assert_eq!(DefaultKey::KEY, "DefaultKey");
    assert!(DefaultKey::SECRET_FIELDS.is_empty());
}

#[test]
fn key_attribute_overrides_and_secret_fields_use_serialized_names() {
    assert_eq!(CustomKey::KEY, "custom-key");
    assert_eq!(CustomKey::SECRET_FIELDS, &["password", "apiToken"]);
}

#[test]
fn manual_impl_gets_no_secret_fields() {
    assert_eq!(Manual::KEY, "Manual");
    assert!(Manual::SECRET_FIELDS.is_empty());
}

#[test]
fn derive_rejects_enums_tuple_structs_generics_and_unknown_attributes() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
