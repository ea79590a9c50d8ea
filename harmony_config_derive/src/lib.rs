//! `#[derive(Config)]`: see the `harmony_config` crate.
//!
//! Implements `::harmony_config::Config` for a struct with named fields:
//! - `KEY` is the type name, or the value of `#[config(key = "...")]` on the struct;
//! - `SECRET_FIELDS` lists the fields marked `#[config(secret)]` by the names serde gives them:
//!   the field's `#[serde(rename = "...")]` or `rename(serialize = "...", deserialize = "...")`,
//!   else the struct's `#[serde(rename_all = "...")]` (either form) applied to the field name.
//!   When the serialized and deserialized names differ, both are listed, so the field is treated
//!   as secret both in prompts (which use the schema's deserialize names) and in stored JSON.
//!
//! Enums, tuple structs, unit structs and generic types are rejected with a message that says why.

use proc_macro::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, parse_macro_input};

#[proc_macro_derive(Config, attributes(config))]
pub fn derive_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let name = &input.ident;

    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Config)] does not support generic types: a config is stored under one fixed \
             KEY, so each stored shape needs its own concrete struct",
        ));
    }

    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => &named.named,
            Fields::Unnamed(_) => {
                return Err(syn::Error::new(
                    name.span(),
                    "#[derive(Config)] needs a struct with named fields: a tuple struct has no field \
                     names to prompt for or to store as JSON keys",
                ));
            }
            Fields::Unit => {
                return Err(syn::Error::new(
                    name.span(),
                    "#[derive(Config)] needs a struct with named fields: a unit struct holds no \
                     configuration",
                ));
            }
        },
        Data::Enum(_) => {
            return Err(syn::Error::new(
                name.span(),
                "#[derive(Config)] cannot be used on an enum: a config is a struct with named \
                 fields (an enum can be the type of one of its fields)",
            ));
        }
        Data::Union(_) => {
            return Err(syn::Error::new(
                name.span(),
                "#[derive(Config)] cannot be used on a union: use a struct with named fields",
            ));
        }
    };

    let mut key = name.to_string();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("config")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("key") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    return Err(meta.error("#[config(key = \"...\")] must not be empty"));
                }
                key = lit.value();
                Ok(())
            } else {
                Err(meta.error("unknown #[config] attribute on a struct: expected `key = \"...\"`"))
            }
        })?;
    }

    let rename_all = serde_rename_all(&input.attrs)?;
    let mut secret_fields: Vec<String> = Vec::new();
    for field in fields {
        let mut secret = false;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("config")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("secret") {
                    secret = true;
                    Ok(())
                } else {
                    Err(meta.error("unknown #[config] attribute on a field: expected `secret`"))
                }
            })?;
        }
        if secret {
            let ident = field.ident.as_ref().expect("named field");
            let raw = ident.to_string();
            let raw = raw.strip_prefix("r#").unwrap_or(&raw).to_string();
            let rename = serde_rename(field)?;
            let ser = rename
                .ser
                .clone()
                .unwrap_or_else(|| apply_rule(rename_all.ser.as_deref(), &raw));
            let de = rename
                .de
                .clone()
                .unwrap_or_else(|| apply_rule(rename_all.de.as_deref(), &raw));
            for name in [ser, de] {
                if !secret_fields.contains(&name) {
                    secret_fields.push(name);
                }
            }
        }
    }

    Ok(quote! {
        impl ::harmony_config::Config for #name {
            const KEY: &'static str = #key;
            const SECRET_FIELDS: &'static [&'static str] = &[#(#secret_fields),*];
        }
    })
}

/// A serde name for each direction; `None` where serde's default applies.
#[derive(Default)]
struct Names {
    ser: Option<String>,
    de: Option<String>,
}

/// Reads `key = "..."` or `key(serialize = "...", deserialize = "...")` from serde attributes.
/// Other serde attributes are serde's business: anything we do not understand is skipped.
fn serde_names(attrs: &[syn::Attribute], key: &str) -> Names {
    let mut names = Names::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) && meta.input.peek(syn::Token![=]) {
                let lit: LitStr = meta.value()?.parse()?;
                names.ser = Some(lit.value());
                names.de = Some(lit.value());
            } else if meta.path.is_ident(key) && meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|inner| {
                    let lit: LitStr = inner.value()?.parse()?;
                    if inner.path.is_ident("serialize") {
                        names.ser = Some(lit.value());
                    } else if inner.path.is_ident("deserialize") {
                        names.de = Some(lit.value());
                    }
                    Ok(())
                })?;
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|inner| {
                    if inner.input.peek(syn::Token![=]) {
                        let _: syn::Expr = inner.value()?.parse()?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        });
    }
    names
}

/// The field's own serde rename, if any.
fn serde_rename(field: &syn::Field) -> syn::Result<Names> {
    Ok(serde_names(&field.attrs, "rename"))
}

/// The struct's `rename_all` rule; an unknown rule is rejected like serde rejects it.
fn serde_rename_all(attrs: &[syn::Attribute]) -> syn::Result<Names> {
    let names = serde_names(attrs, "rename_all");
    for rule in [&names.ser, &names.de].into_iter().flatten() {
        if !RULES.contains(&rule.as_str()) {
            let span = attrs
                .iter()
                .find(|a| a.path().is_ident("serde"))
                .map(|a| a.span())
                .unwrap_or_else(proc_macro2::Span::call_site);
            return Err(syn::Error::new(
                span,
                format!(
                    "unknown serde rename_all rule `{rule}`: expected one of {}",
                    RULES.join(", ")
                ),
            ));
        }
    }
    Ok(names)
}

const RULES: &[&str] = &[
    "lowercase",
    "UPPERCASE",
    "PascalCase",
    "camelCase",
    "snake_case",
    "SCREAMING_SNAKE_CASE",
    "kebab-case",
    "SCREAMING-KEBAB-CASE",
];

/// serde's `rename_all` rules for a field name (fields are snake_case in Rust).
fn apply_rule(rule: Option<&str>, field: &str) -> String {
    match rule {
        None | Some("snake_case") => field.to_string(),
        Some("lowercase") => field.to_ascii_lowercase(),
        Some("UPPERCASE") => field.to_ascii_uppercase(),
        Some("PascalCase") => {
            let mut out = String::new();
            let mut capitalize = true;
            for ch in field.chars() {
                if ch == '_' {
                    capitalize = true;
                } else if capitalize {
                    out.push(ch.to_ascii_uppercase());
                    capitalize = false;
                } else {
                    out.push(ch);
                }
            }
            out
        }
        Some("camelCase") => {
            let pascal = apply_rule(Some("PascalCase"), field);
            let mut chars = pascal.chars();
            match chars.next() {
                Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                None => pascal,
            }
        }
        Some("SCREAMING_SNAKE_CASE") => field.to_ascii_uppercase(),
        Some("kebab-case") => field.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => field.replace('_', "-").to_ascii_uppercase(),
        Some(_) => field.to_string(),
    }
}
