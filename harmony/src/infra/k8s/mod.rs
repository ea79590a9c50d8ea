//! Kubernetes adapter built on kube-rs.

mod client;
pub mod distribution;
mod dry_run;
mod portforward;
pub mod wait;

pub(crate) use client::describe;
pub use client::{Applied, K8sClient, K8sError};
pub use portforward::{PortForward, PortForwardTarget};
