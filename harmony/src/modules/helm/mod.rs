//! Helm-based Scores.

pub mod chart;

pub use chart::{HelmChartScore, HelmRepository};
