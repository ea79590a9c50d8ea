//! Proxies from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), applied the way
//! kubectl and curl do: a loopback address (a k3d API server, a port-forward on 127.0.0.1) is
//! always reached directly, and so is any host `NO_PROXY` lists.
//!
//! - reqwest honours `NO_PROXY` itself, but a port-forward must never go through a proxy even
//!   when `NO_PROXY` forgets loopback: [`client_builder_for`] turns proxies off for loopback
//!   URLs.
//! - kube-client 5 takes `HTTPS_PROXY` for every cluster and compares `NO_PROXY` with the
//!   proxy's own URL instead of the API server's (`ConfigLoader::proxy_url`), so
//!   [`bypass_env_proxy`] drops an environment proxy for an API server that should be direct.

use std::net::IpAddr;

/// The names of the proxy variables, upper case first (as curl and Go read them).
const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];
const HTTPS_PROXY_VARS: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];

fn first_set(env: &impl Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
}

/// The host of a URL without brackets (`[::1]` → `::1`).
fn url_host(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// `localhost`, `*.localhost`, 127.0.0.0/8 or ::1: the same rule as the OpenBao client's.
pub use harmony_secret::openbao_http::is_loopback_host;

/// Whether `host` is listed in a `NO_PROXY` value: `*`, an IP, a CIDR range, a domain (which
/// also covers its subdomains; a leading `.` or `*.` is accepted), each with an optional
/// `:port` that is ignored.
pub fn no_proxy_matches(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Ok(net) = entry.parse::<ipnet::IpNet>() {
                return host_ip.is_some_and(|ip| net.contains(&ip));
            }
            let entry = entry.trim_start_matches('[');
            let bare = match entry.split_once(']') {
                Some((ip, _)) => ip.to_string(),
                None if entry.matches(':').count() == 1 => {
                    entry.split(':').next().unwrap_or(entry).to_string()
                }
                None => entry.to_string(),
            };
            if let Ok(ip) = bare.parse::<IpAddr>() {
                return host_ip == Some(ip);
            }
            let domain = bare
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            !domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}")))
        })
}

/// Whether a request to `url` should skip a proxy taken from the environment.
pub fn direct_by_env(url: &str, env: impl Fn(&str) -> Option<String>) -> bool {
    let Some(host) = url_host(url) else {
        return false;
    };
    is_loopback_host(&host)
        || first_set(&env, &NO_PROXY_VARS).is_some_and(|np| no_proxy_matches(&np, &host))
}

/// A reqwest client builder for `base_url`: without any proxy when it is a loopback address
/// (a port-forward), else with reqwest's usual environment proxies (which honour `NO_PROXY`).
pub fn client_builder_for(base_url: &str) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    if url_host(base_url).is_some_and(|h| is_loopback_host(&h)) {
        builder.no_proxy()
    } else {
        builder
    }
}

/// Drops a proxy that kube took from `HTTPS_PROXY` when the API server is loopback or listed
/// in `NO_PROXY`. A `proxy-url` written in the kubeconfig (different from the environment's)
/// is kept: somebody chose it for that cluster.
pub fn bypass_env_proxy(config: &mut kube::Config, env: impl Fn(&str) -> Option<String>) {
    let Some(proxy) = config.proxy_url.as_ref() else {
        return;
    };
    let from_env = first_set(&env, &HTTPS_PROXY_VARS)
        .and_then(|p| p.trim().parse::<http::Uri>().ok())
        .is_some_and(|p| &p == proxy);
    if from_env && direct_by_env(&config.cluster_url.to_string(), &env) {
        log::debug!(
            "reaching the Kubernetes API at {} directly (loopback or NO_PROXY), not through {}",
            config.cluster_url,
            redact_userinfo(proxy)
        );
        config.proxy_url = None;
    }
}

/// The user-info of a proxy URL (`user:password` in `http://user:password@proxy:3128`), if any.
fn userinfo(proxy: &http::Uri) -> Option<&str> {
    proxy
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
        .map(|(info, _)| info)
        .filter(|info| !info.is_empty())
}

/// `proxy` for logs and errors: its user-info (a proxy password) replaced by `***`.
pub fn redact_userinfo(proxy: &http::Uri) -> String {
    redact_proxy_credentials(&proxy.to_string(), proxy)
}

/// `text` (e.g. an error naming the proxy) with `proxy`'s user-info replaced by `***`.
pub fn redact_proxy_credentials(text: &str, proxy: &http::Uri) -> String {
    match userinfo(proxy) {
        Some(info) => text.replace(info, "***"),
        None => text.to_string(),
    }
}

/// The process environment, for [`bypass_env_proxy`] and [`direct_by_env`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn no_proxy_entries() {
        let np = "localhost, 10.0.0.0/8,.corp.example,*.svc.local,192.168.1.5:6443,[::1],git.io";
        assert!(no_proxy_matches(np, "api.corp.example"));
        assert!(no_proxy_matches(np, "corp.example"));
        assert!(no_proxy_matches(np, "10.2.3.4"));
        assert!(no_proxy_matches(np, "x.svc.local"));
        assert!(no_proxy_matches(np, "192.168.1.5"));
        assert!(no_proxy_matches(np, "::1"));
        assert!(no_proxy_matches(np, "GIT.IO"));
        assert!(!no_proxy_matches(np, "notgit.io"));
        assert!(!no_proxy_matches(np, "11.0.0.1"));
        assert!(!no_proxy_matches(np, "example.com"));
        assert!(no_proxy_matches("*", "anything"));
    }

    #[test]
    fn proxy_credentials_are_redacted() {
        let proxy: http::Uri = "http://alice:s3cret@proxy.corp.example:3128"
            .parse()
            .unwrap();
        let shown = redact_userinfo(&proxy);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("proxy.corp.example:3128"), "{shown}");
        let err = format!("configured proxy {proxy:?} uses an unsupported protocol");
        let redacted = redact_proxy_credentials(&err, &proxy);
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(redacted.contains("***@proxy.corp.example"), "{redacted}");
        let plain: http::Uri = "http://proxy.corp.example:3128".parse().unwrap();
        assert_eq!(redact_userinfo(&plain), "http://proxy.corp.example:3128/");
    }

    #[test]
    fn loopback_is_always_direct_other_hosts_follow_no_proxy() {
        let none = env(&[]);
        assert!(direct_by_env("http://127.0.0.1:6443", &none));
        assert!(direct_by_env("https://localhost:6443", &none));
        assert!(direct_by_env("http://[::1]:8200", &none));
        assert!(!direct_by_env("https://k8s.corp.example:6443", &none));
        let listed = env(&[("no_proxy", ".corp.example")]);
        assert!(direct_by_env("https://k8s.corp.example:6443", &listed));
    }

    fn kube_config(server: &str, proxy: &str) -> kube::Config {
        let mut config = kube::Config::new(server.parse().unwrap());
        config.proxy_url = Some(proxy.parse().unwrap());
        config
    }

    #[test]
    fn an_env_proxy_is_dropped_for_a_loopback_or_no_proxy_api_server() {
        let vars = env(&[
            ("HTTPS_PROXY", "http://proxy.corp.example:3128"),
            ("NO_PROXY", "localhost,127.0.0.1,.internal"),
        ]);
        let mut k3d = kube_config("https://127.0.0.1:6550", "http://proxy.corp.example:3128");
        bypass_env_proxy(&mut k3d, &vars);
        assert_eq!(k3d.proxy_url, None);
        let mut listed = kube_config(
            "https://k8s.internal:6443",
            "http://proxy.corp.example:3128",
        );
        bypass_env_proxy(&mut listed, &vars);
        assert_eq!(listed.proxy_url, None);
        let mut remote = kube_config("https://k8s.example.com", "http://proxy.corp.example:3128");
        bypass_env_proxy(&mut remote, &vars);
        assert!(
            remote.proxy_url.is_some(),
            "a remote API server keeps the proxy"
        );
        // Chosen in the kubeconfig for this cluster, not from the environment: kept.
        let mut chosen = kube_config("https://127.0.0.1:6550", "http://jump.example:8888");
        bypass_env_proxy(&mut chosen, &vars);
        assert!(chosen.proxy_url.is_some());
    }
}
