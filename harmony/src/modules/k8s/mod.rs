//! Kubernetes-level Scores.

pub mod coredns;
