//! Helm values for the pinned Zitadel chart, chosen by distribution (pure functions).

use serde_json::{Value, json};

use super::ZitadelScore;

/// Which flavour of values to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZitadelFlavor {
    /// k3s/k3d and other plain clusters: HTTP through the ingress (traefik on k3d), v1 login
    /// (no TLS needed), `ExternalPort` = the port the host maps to the ingress (8080 on k3d).
    Plain,
    /// OpenShift: TLS at the edge with cert-manager, port 443, v2 login behind the ingress.
    OpenShift {
        /// cert-manager ClusterIssuer that signs the ingress certificate.
        cluster_issuer: String,
    },
}

impl ZitadelFlavor {
    /// Whether clients reach Zitadel over HTTPS (Zitadel's `ExternalSecure`).
    pub fn external_secure(&self) -> bool {
        matches!(self, ZitadelFlavor::OpenShift { .. })
    }
}

/// Where Zitadel's database is, as read from the PostgreSQL capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbEndpoint {
    /// Hostname of the read-write Service, e.g. `zitadel-pg-rw.zitadel.svc.cluster.local`.
    pub host: String,
    /// PostgreSQL port on that Service.
    pub port: u16,
    /// Secret (`username`, `password`) of the database owner (CNPG `<cluster>-app`).
    pub app_secret: String,
    /// Secret of the user Zitadel's init step connects as (CNPG `<cluster>-superuser` when
    /// superuser access is on, else the owner's secret: the database and owner already exist,
    /// so `initJob.command: zitadel` only creates the schema).
    pub admin_secret: String,
}

/// A `valueFrom.secretKeyRef` env var.
fn env_from_secret(name: &str, secret: &str, key: &str) -> Value {
    json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

impl ZitadelScore {
    /// The port clients use in URLs.
    pub fn external_port(&self, flavor: &ZitadelFlavor) -> u16 {
        match flavor {
            ZitadelFlavor::Plain => self.k3d_http_port,
            ZitadelFlavor::OpenShift { .. } => 443,
        }
    }

    /// The OIDC issuer / console base URL, e.g. `http://zitadel.harmony.local:8080`.
    pub fn issuer_url(&self, flavor: &ZitadelFlavor) -> String {
        let (scheme, default_port) = if flavor.external_secure() {
            ("https", 443)
        } else {
            ("http", 80)
        };
        let port = self.external_port(flavor);
        if port == default_port {
            format!("{scheme}://{}", self.host)
        } else {
            format!("{scheme}://{}:{port}", self.host)
        }
    }

    /// The login name that works for the first human admin: Zitadel's rule is
    /// `{username}@{org domain}`, where the org's generated domain is
    /// `{org name, lowercased, spaces to dashes}.{ExternalDomain}`.
    pub fn admin_login_name(&self) -> String {
        let org = self
            .org_name
            .trim()
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-");
        format!("{}@{}.{}", self.admin_username, org, self.host)
    }

    /// Helm values. No secret is in them: the masterkey, the admin password and the database
    /// passwords come from Secrets (masterkeySecretName / env secretKeyRef).
    pub fn helm_values(&self, flavor: &ZitadelFlavor, db: &DbEndpoint) -> Value {
        let app_secret = db.app_secret.as_str();
        let mut env = vec![
            env_from_secret(
                "ZITADEL_DATABASE_POSTGRES_USER_USERNAME",
                app_secret,
                "username",
            ),
            env_from_secret(
                "ZITADEL_DATABASE_POSTGRES_USER_PASSWORD",
                app_secret,
                "password",
            ),
            env_from_secret(
                "ZITADEL_FIRSTINSTANCE_ORG_HUMAN_PASSWORD",
                &self.admin_secret_name(),
                "password",
            ),
        ];
        // The database and its owner come from CNPG's initdb, so the init job only runs the
        // schema step (`initJob.command: zitadel`).
        env.push(env_from_secret(
            "ZITADEL_DATABASE_POSTGRES_ADMIN_USERNAME",
            &db.admin_secret,
            "username",
        ));
        env.push(env_from_secret(
            "ZITADEL_DATABASE_POSTGRES_ADMIN_PASSWORD",
            &db.admin_secret,
            "password",
        ));

        let mut config = json!({
            "ExternalDomain": self.host,
            "ExternalPort": self.external_port(flavor),
            "ExternalSecure": flavor.external_secure(),
            "TLS": { "Enabled": false },
            "Database": {
                "Postgres": {
                    "Host": db.host,
                    "Port": db.port,
                    "Database": self.database_name,
                    "MaxOpenConns": 20,
                    "MaxIdleConns": 10,
                    "MaxConnLifetime": "30m",
                    "MaxConnIdleTime": "5m",
                    "User": { "SSL": { "Mode": "disable" } },
                    "Admin": { "SSL": { "Mode": "disable" } },
                }
            },
            "FirstInstance": {
                "Org": {
                    "Name": self.org_name,
                    "Human": {
                        "UserName": self.admin_username,
                        "FirstName": "Harmony",
                        "LastName": "Admin",
                        "Email": {
                            "Address": format!("{}@{}", self.admin_username, self.host),
                            "Verified": true,
                        },
                        "PasswordChangeRequired": false,
                    },
                }
            },
        });

        let (ingress, login) = match flavor {
            ZitadelFlavor::Plain => {
                config["DefaultInstance"] =
                    json!({ "Features": { "LoginV2": { "Required": false } } });
                (
                    json!({
                        "enabled": true,
                        "className": self.ingress_class,
                        "hosts": [{ "paths": [{ "path": "/", "pathType": "Prefix" }] }],
                    }),
                    json!({ "enabled": false }),
                )
            }
            ZitadelFlavor::OpenShift { cluster_issuer } => {
                let annotations = json!({
                    "route.openshift.io/termination": "edge",
                    "cert-manager.io/cluster-issuer": cluster_issuer,
                });
                let tls =
                    json!([{ "hosts": [self.host], "secretName": format!("{}-tls", self.host) }]);
                (
                    json!({
                        "enabled": true,
                        "annotations": annotations,
                        "hosts": [{ "paths": [{ "path": "/", "pathType": "Prefix" }] }],
                        "tls": tls,
                    }),
                    json!({
                        "enabled": true,
                        "ingress": {
                            "enabled": true,
                            "annotations": annotations,
                            "hosts": [{ "paths": [{ "path": "/ui/v2/login", "pathType": "Prefix" }] }],
                            "tls": tls,
                        }
                    }),
                )
            }
        };

        json!({
            "image": { "tag": self.image_tag },
            "replicaCount": 1,
            "zitadel": {
                "masterkeySecretName": self.masterkey_secret_name(),
                "configmapConfig": config,
            },
            "env": env,
            "initJob": { "command": "zitadel" },
            "ingress": ingress,
            "login": login,
            // Same port as the issuer URL, so in-cluster clients reach `http://<host>:<port>`
            // through the CoreDNS rewrite to this Service.
            "service": { "port": self.service_port() },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_http_port_maps_the_ingress_and_sets_zitadel_external_and_service_port() {
        use crate::infra::k8s_anywhere::K8sAnywhereConfig;
        use crate::modules::zitadel::ZitadelSetupScore;
        // 8080 is often taken.
        let c = K8sAnywhereConfig::from_vars(|k| {
            (k == "HARMONY_HTTP_PORT").then(|| "8081".to_string())
        });
        let zitadel = ZitadelScore {
            k3d_http_port: c.k3d.http_port,
            ..Default::default()
        };
        // From the host: k3d's 8081 → ingress → Zitadel, which must call itself :8081.
        assert!(
            c.k3d
                .create_args()
                .join(" ")
                .contains("-p 8081:80@loadbalancer")
        );
        let issuer = zitadel.issuer_url(&ZitadelFlavor::Plain);
        assert_eq!(issuer, "http://zitadel.harmony.local:8081");
        let values = zitadel.helm_values(&ZitadelFlavor::Plain, &db());
        assert_eq!(values["zitadel"]["configmapConfig"]["ExternalPort"], 8081);
        // From pods (OpenBao fetching the discovery document): CoreDNS sends the host to the
        // Service, which must listen on the issuer's port.
        assert_eq!(values["service"]["port"], 8081);
        assert_eq!(
            ZitadelSetupScore::for_deployment(&zitadel).service_port,
            8081
        );
    }

    fn db() -> DbEndpoint {
        DbEndpoint {
            host: "zitadel-pg-rw.zitadel.svc.cluster.local".into(),
            port: 5432,
            app_secret: "zitadel-pg-app".into(),
            admin_secret: "zitadel-pg-superuser".into(),
        }
    }

    #[test]
    fn plain_values_are_http_8080_traefik_and_login_v1() {
        let score = ZitadelScore::default();
        let v = score.helm_values(&ZitadelFlavor::Plain, &db());
        let c = &v["zitadel"]["configmapConfig"];
        assert_eq!(c["ExternalDomain"], "zitadel.harmony.local");
        assert_eq!(c["ExternalSecure"], false);
        assert_eq!(c["ExternalPort"], 8080);
        assert_eq!(v["service"]["port"], 8080);
        assert_eq!(
            c["DefaultInstance"]["Features"]["LoginV2"]["Required"],
            false
        );
        assert_eq!(v["ingress"]["className"], "traefik");
        // The chart takes the ingress host from ExternalDomain (its schema has no `host`).
        assert!(v["ingress"]["hosts"][0].get("host").is_none());
        assert_eq!(v["ingress"]["hosts"][0]["paths"][0]["path"], "/");
        assert!(v["ingress"].get("tls").is_none());
        assert_eq!(v["initJob"]["command"], "zitadel");
        assert_eq!(v["image"]["tag"], "v4.13.0");
        assert_eq!(
            c["Database"]["Postgres"]["Host"],
            "zitadel-pg-rw.zitadel.svc.cluster.local"
        );
        assert_eq!(
            score.issuer_url(&ZitadelFlavor::Plain),
            "http://zitadel.harmony.local:8080"
        );
    }

    #[test]
    fn openshift_values_are_tls_443_with_cert_manager() {
        let score = ZitadelScore {
            host: "sso.example.com".into(),
            ..Default::default()
        };
        let flavor = ZitadelFlavor::OpenShift {
            cluster_issuer: "letsencrypt-prod".into(),
        };
        let v = score.helm_values(&flavor, &db());
        let c = &v["zitadel"]["configmapConfig"];
        assert_eq!(c["ExternalSecure"], true);
        assert_eq!(c["ExternalPort"], 443);
        assert!(c.get("DefaultInstance").is_none());
        assert_eq!(
            v["ingress"]["annotations"]["cert-manager.io/cluster-issuer"],
            "letsencrypt-prod"
        );
        assert_eq!(v["ingress"]["tls"][0]["secretName"], "sso.example.com-tls");
        assert_eq!(score.issuer_url(&flavor), "https://sso.example.com");
    }

    #[test]
    fn no_secret_value_is_in_the_values() {
        let v = ZitadelScore::default().helm_values(&ZitadelFlavor::Plain, &db());
        let text = v.to_string();
        assert!(!text.contains("\"masterkey\":"));
        assert!(
            v["zitadel"]["configmapConfig"]["FirstInstance"]["Org"]["Human"]
                .get("Password")
                .is_none()
        );
        let envs: Vec<&str> = v["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(envs.contains(&"ZITADEL_FIRSTINSTANCE_ORG_HUMAN_PASSWORD"));
        assert!(envs.contains(&"ZITADEL_DATABASE_POSTGRES_USER_PASSWORD"));
        assert!(
            v["env"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e.get("value").is_none())
        );
    }

    #[test]
    fn login_name_follows_zitadel_rule() {
        let score = ZitadelScore::default();
        assert_eq!(
            score.admin_login_name(),
            "admin@zitadel.zitadel.harmony.local"
        );
        let custom = ZitadelScore {
            org_name: "My Org".into(),
            admin_username: "root".into(),
            host: "sso.example.com".into(),
            ..Default::default()
        };
        assert_eq!(custom.admin_login_name(), "root@my-org.sso.example.com");
        // The configured user name and org are what the login name is built from.
        let v = custom.helm_values(&ZitadelFlavor::Plain, &db());
        let org = &v["zitadel"]["configmapConfig"]["FirstInstance"]["Org"];
        assert_eq!(org["Name"], "My Org");
        assert_eq!(org["Human"]["UserName"], "root");
    }
}
