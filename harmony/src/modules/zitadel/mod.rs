//! Zitadel: the identity provider (OIDC) for Harmony's single sign-on.
//!
//! - [`ZitadelScore`] deploys Zitadel (pinned chart) on a CloudNativePG database, with a
//!   masterkey and admin credentials generated once and kept in Secrets;
//! - [`ZitadelSetupScore`] creates (find-or-create) the project and the device-code CLI app via
//!   the typed Management API client in [`crate::infra::zitadel_api`].

mod deploy;
pub mod setup;
pub mod values;

use serde::Serialize;

pub use setup::{ZitadelApp, ZitadelSetupScore};
pub use values::{DbEndpoint, ZitadelFlavor};

/// Chart repository of the `zitadel` chart.
pub const ZITADEL_CHART_REPO: &str = "https://charts.zitadel.com";
/// Pinned chart version (appVersion v4.13.0).
pub const ZITADEL_CHART_VERSION: &str = "9.34.0";
/// Zitadel image tag matching [`ZITADEL_CHART_VERSION`]'s appVersion.
pub const ZITADEL_IMAGE_TAG: &str = "v4.13.0";
/// Secret written by the chart's setup job; key `pat` holds the iam-admin PAT.
pub const IAM_ADMIN_PAT_SECRET: &str = "iam-admin-pat";

/// Deploys Zitadel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZitadelScore {
    /// Namespace of Zitadel and its database (created when missing).
    pub namespace: String,
    /// Helm release name; the Service and Secrets are named after it ([`Self::fullname`]).
    pub release_name: String,
    /// `ExternalDomain`: the hostname users and tokens use.
    pub host: String,
    /// The one HTTP port of the issuer URL: the host port k3d maps to the ingress
    /// (`K3dClusterSpec::http_port`, `-p 8080:80@loadbalancer`), Zitadel's `ExternalPort` on
    /// plain clusters, and the Service's port, so that `http://<host>:<port>` works from the host
    /// (through the ingress) and from pods (CoreDNS rewrites `host` to the Service).
    pub k3d_http_port: u16,
    /// Version of the `zitadel` chart ([`ZITADEL_CHART_VERSION`] by default).
    pub chart_version: String,
    /// Zitadel image tag ([`ZITADEL_IMAGE_TAG`] by default).
    pub image_tag: String,
    /// CloudNativePG cluster name (its `-rw` service and `-app` secret derive from it).
    pub pg_cluster_name: String,
    /// Number of PostgreSQL instances (1 = no replica).
    pub pg_instances: u32,
    /// Volume size per PostgreSQL instance, as a Kubernetes quantity (e.g. `1Gi`).
    pub pg_storage: String,
    /// Database Zitadel uses.
    pub database_name: String,
    /// PostgreSQL role owning that database.
    pub database_owner: String,
    /// First org name ("ZITADEL" by default); part of the admin login name.
    pub org_name: String,
    /// User name of the first human admin (login name: [`Self::admin_login_name`]).
    pub admin_username: String,
    /// Ingress class of the Ingress in front of Zitadel (`traefik` on k3d).
    pub ingress_class: String,
    /// cert-manager ClusterIssuer used on OpenShift.
    pub cluster_issuer: String,
}

impl Default for ZitadelScore {
    fn default() -> Self {
        Self {
            namespace: "zitadel".to_string(),
            release_name: "zitadel".to_string(),
            host: "zitadel.harmony.local".to_string(),
            k3d_http_port: crate::infra::k3d::DEFAULT_HTTP_PORT,
            chart_version: ZITADEL_CHART_VERSION.to_string(),
            image_tag: ZITADEL_IMAGE_TAG.to_string(),
            pg_cluster_name: "zitadel-pg".to_string(),
            pg_instances: 1,
            pg_storage: "1Gi".to_string(),
            database_name: "zitadel".to_string(),
            database_owner: "zitadel".to_string(),
            org_name: "ZITADEL".to_string(),
            admin_username: "admin".to_string(),
            ingress_class: "traefik".to_string(),
            cluster_issuer: "letsencrypt-prod".to_string(),
        }
    }
}

impl ZitadelScore {
    /// The chart's fullname: the release name if it contains "zitadel", else `<release>-zitadel`.
    pub fn fullname(&self) -> String {
        crate::modules::helm::chart_fullname(&self.release_name, "zitadel")
    }

    /// Secret holding Zitadel's masterkey (generated once, never rotated by Harmony).
    pub fn masterkey_secret_name(&self) -> String {
        format!("{}-masterkey", self.fullname())
    }

    /// Secret with keys `username` and `password` of the first human admin.
    pub fn admin_secret_name(&self) -> String {
        format!("{}-admin-credentials", self.fullname())
    }

    /// The Service's port: [`Self::k3d_http_port`] (the pods listen on 8080 behind it).
    pub fn service_port(&self) -> u16 {
        self.k3d_http_port
    }

    /// The in-cluster Service FQDN (port [`Self::service_port`]), e.g. for a CoreDNS rewrite
    /// of `host`.
    pub fn service_fqdn(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.fullname(), self.namespace)
    }
}
