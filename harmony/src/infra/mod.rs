//! Adapters: the code that talks to real tools (Kubernetes API, helm, k3d, downloads).
//!
//! The domain modules (`score`, `interpret`, `topology`, `inventory`) never import kube or
//! helm; they only see the types re-exported from here through capabilities.

pub mod cnpg;
pub mod download;
pub mod existing_stack;
pub mod helm;
pub(crate) mod http_error;
pub mod k3d;
pub mod k8s;
pub mod k8s_anywhere;
pub mod openbao_admin;
pub mod proxy;
