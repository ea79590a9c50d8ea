//! Typed configuration for Harmony.
