//! #[derive(Config)]: keys, secret fields and manual impls. Its compile errors are tested in
//! harmony_config_derive/tests/compile_errors.rs (trybuild, against a lean dependency set).

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

#[derive(Serialize, Deserialize, JsonSchema, Config)]
#[serde(rename_all = "camelCase")]
struct Camel {
    user_name: String,
    #[config(secret)]
    api_token: String,
    #[config(secret)]
    #[serde(rename(serialize = "pw_out", deserialize = "pw_in"))]
    db_password: String,
}

#[derive(Serialize, Deserialize, JsonSchema, Config)]
#[serde(rename_all(serialize = "SCREAMING-KEBAB-CASE", deserialize = "PascalCase"))]
struct SplitRule {
    #[config(secret)]
    root_key: String,
}

macro_rules! rule_case {
    ($name:ident, $rule:literal) => {
        #[derive(Serialize, Deserialize, JsonSchema, Config)]
        #[serde(rename_all = $rule)]
        #[allow(dead_code)]
        struct $name {
            #[config(secret)]
            my_api_token: String,
        }
    };
}
rule_case!(Lower, "lowercase");
rule_case!(Upper, "UPPERCASE");
rule_case!(Pascal, "PascalCase");
rule_case!(Snake, "snake_case");
rule_case!(Screaming, "SCREAMING_SNAKE_CASE");
rule_case!(Kebab, "kebab-case");
rule_case!(ScreamingKebab, "SCREAMING-KEBAB-CASE");

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
fn secret_fields_follow_rename_all_and_directional_renames() {
    assert_eq!(Camel::SECRET_FIELDS, &["apiToken", "pw_out", "pw_in"]);
    assert_eq!(SplitRule::SECRET_FIELDS, &["ROOT-KEY", "RootKey"]);
    // Each name must be the one serde actually writes.
    let json = serde_json::to_value(Camel {
        user_name: "u".into(),
        api_token: "t".into(),
        db_password: "p".into(),
    })
    .unwrap();
    assert!(
        json.get("apiToken").is_some() && json.get("pw_out").is_some(),
        "{json}"
    );
}

#[test]
fn secret_fields_apply_every_serde_rename_all_rule() {
    assert_eq!(Lower::SECRET_FIELDS, &["my_api_token"]);
    assert_eq!(Upper::SECRET_FIELDS, &["MY_API_TOKEN"]);
    assert_eq!(Pascal::SECRET_FIELDS, &["MyApiToken"]);
    assert_eq!(Snake::SECRET_FIELDS, &["my_api_token"]);
    assert_eq!(Screaming::SECRET_FIELDS, &["MY_API_TOKEN"]);
    assert_eq!(Kebab::SECRET_FIELDS, &["my-api-token"]);
    assert_eq!(ScreamingKebab::SECRET_FIELDS, &["MY-API-TOKEN"]);
    for (fields, value) in [
        (
            Lower::SECRET_FIELDS,
            serde_json::to_value(Lower {
                my_api_token: String::new(),
            }),
        ),
        (
            Upper::SECRET_FIELDS,
            serde_json::to_value(Upper {
                my_api_token: String::new(),
            }),
        ),
        (
            Pascal::SECRET_FIELDS,
            serde_json::to_value(Pascal {
                my_api_token: String::new(),
            }),
        ),
        (
            Snake::SECRET_FIELDS,
            serde_json::to_value(Snake {
                my_api_token: String::new(),
            }),
        ),
        (
            Screaming::SECRET_FIELDS,
            serde_json::to_value(Screaming {
                my_api_token: String::new(),
            }),
        ),
        (
            Kebab::SECRET_FIELDS,
            serde_json::to_value(Kebab {
                my_api_token: String::new(),
            }),
        ),
        (
            ScreamingKebab::SECRET_FIELDS,
            serde_json::to_value(ScreamingKebab {
                my_api_token: String::new(),
            }),
        ),
    ] {
        let value = value.unwrap();
        assert!(
            value.get(fields[0]).is_some(),
            "serde wrote {value}, derive said {fields:?}"
        );
    }
}

#[test]
fn manual_impl_gets_no_secret_fields() {
    assert_eq!(Manual::KEY, "Manual");
    assert!(Manual::SECRET_FIELDS.is_empty());
}
