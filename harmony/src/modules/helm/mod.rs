//! Helm-based Scores.

pub mod chart;
mod chart_plan;

pub use chart::{HelmChartScore, HelmRepository};
