//! `#[derive(Config)]`: see the `harmony_config` crate.
//!
//! Implements `::harmony_config::Config` for a struct with named fields:
//! - `KEY` is the type name, or the value of `#[config(key = "...")]` on the struct;
//! - `SECRET_FIELDS` lists the fields marked `#[config(secret)]` (by their serialized name when
//!   the field carries `#[serde(rename = "...")]`).
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

    let mut secret_fields = Vec::new();
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
            let serialized = serde_rename(field)?.unwrap_or_else(|| {
                let raw = ident.to_string();
                raw.strip_prefix("r#").unwrap_or(&raw).to_string()
            });
            secret_fields.push(serialized);
        }
    }

    Ok(quote! {
        impl ::harmony_config::Config for #name {
            const KEY: &'static str = #key;
            const SECRET_FIELDS: &'static [&'static str] = &[#(#secret_fields),*];
        }
    })
}

/// The `#[serde(rename = "...")]` of a field, if any, so secret names match the stored JSON.
fn serde_rename(field: &syn::Field) -> syn::Result<Option<String>> {
    let mut rename = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        // Other serde attributes are serde's business: skip anything we do not understand.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") && meta.input.peek(syn::Token![=]) {
                let lit: LitStr = meta.value()?.parse()?;
                rename = Some(lit.value());
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
    Ok(rename)
}
