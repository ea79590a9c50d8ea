//! `#[derive(Config)]`: see the `harmony_config` crate.
//!
//! Implements `::harmony_config::Config` for a struct with named fields:
//! - `KEY` is the type name, or the value of `#[config(key = "...")]` on the struct;
//! - `SECRET_FIELDS` lists the fields marked `#[config(secret)]` by the names serde gives them:
//!   the field's `#[serde(rename = "...")]` or `rename(serialize = "...", deserialize = "...")`,
//!   else the struct's `#[serde(rename_all = "...")]` (either form) applied to the field name.
//!   When the serialized and deserialized names differ, both are listed, so the field is treated
//!   as secret both in prompts (which use the schema's deserialize names) and in stored JSON.
//!   The names come from serde's own attribute parser (`serde_derive_internals`, as in schemars),
//!   and a serde attribute serde would reject (an unknown `rename_all` rule, a misspelt attribute)
//!   is reported as a compile error.
//!
//! Enums, tuple structs, unit structs and generic types are rejected with a message that says why.

#![warn(missing_docs)]

use proc_macro::TokenStream;
use quote::quote;
use serde_derive_internals::ast::Container;
use serde_derive_internals::{Ctxt, Derive};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, parse_macro_input};

/// Implements `harmony_config::Config`; see the crate docs for `#[config(key = "...")]` and
/// `#[config(secret)]`. `serde` is also declared as a helper attribute (as schemars does), so the
/// derive reads serde's renames even where serde's own derive is not applied.
#[proc_macro_derive(Config, attributes(config, serde))]
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

    let names = serde_field_names(input)?;
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
            let (ser, de) = names
                .iter()
                .find(|(member, _, _)| member == ident)
                .map(|(_, ser, de)| (ser.clone(), de.clone()))
                .expect("serde parsed every named field");
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

/// The serialized and deserialized name of each named field, as serde's own attribute parser
/// (`serde_derive_internals`, which schemars uses too) computes them from `rename`, `rename_all`
/// and the other serde attributes. A serde attribute serde would reject is a compile error here.
fn serde_field_names(input: &DeriveInput) -> syn::Result<Vec<(syn::Ident, String, String)>> {
    let cx = Ctxt::new();
    // `private` names serde's private module in the code serde generates; nothing is generated here.
    let private = proc_macro2::Ident::new("__private", proc_macro2::Span::call_site());
    let container = Container::from_ast(&cx, input, Derive::Deserialize, &private);
    cx.check()?;
    let Some(container) = container else {
        return Ok(Vec::new());
    };
    Ok(container
        .data
        .all_fields()
        .filter_map(|field| match &field.member {
            syn::Member::Named(ident) => Some((
                ident.clone(),
                field.attrs.name().serialize_name().value.clone(),
                field.attrs.name().deserialize_name().value.clone(),
            )),
            syn::Member::Unnamed(_) => None,
        })
        .collect())
}
