//! #[derive(Config)] rejects enums, tuple structs, generics, unknown attributes and serde
//! attributes serde would reject, with a message that says what to write instead (trybuild UI
//! tests).
//!
//! The UI cases import the derive from this crate, not through `harmony_config`, so trybuild's
//! scratch project compiles only the macro and its syn/quote dependencies: the errors are the
//! macro's own and appear before any `harmony_config` item is looked up. Serde attributes are
//! read by serde's own parser (`serde_derive_internals`), so their errors are serde's wording.

#[test]
fn derive_rejects_enums_tuple_structs_generics_and_unknown_attributes() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
