//! Adapters: the code that talks to real tools (Kubernetes API, helm, k3d, downloads, the
//! OpenBao and Zitadel HTTP APIs).
//!
//! The domain modules (`score`, `interpret`, `topology`, `inventory`) never import kube or
//! helm; a capability may name an adapter type by its path (`infra::k8s::K8sClient`), but
//! `topology` re-exports none. Adapters never call Scores (`crate::modules`) and return their
//! own errors, never `InterpretError` (the architecture tests in `modules/mod.rs` check this).

pub mod cnpg;
pub mod download;
pub mod existing_stack;
pub mod helm;
pub(crate) mod http_error;
pub mod k3d;
pub mod k8s;
pub mod k8s_anywhere;
pub mod openbao_admin;
pub mod openbao_cluster;
pub mod openbao_transit;
pub mod proxy;
pub mod zitadel_api;
