//! Concrete Scores, one folder per product or concern.

pub mod helm;
pub mod k8s;
pub mod openbao;
pub mod postgresql;
pub mod sso_stack;
pub mod zitadel;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// The code (comments dropped) of `src/<path>` if it is a file, else of every `.rs` file
    /// under it, by file.
    fn sources(dir: &str) -> Vec<(PathBuf, String)> {
        fn visit(dir: &Path, files: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, files);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
        let mut files = Vec::new();
        if root.is_file() {
            files.push(root);
        } else {
            visit(&root, &mut files);
        }
        files
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap();
                (path, code_of(&text))
            })
            .collect()
    }

    /// `text` without comments, on one line (a `use` group may span several lines).
    fn code_of(text: &str) -> String {
        text.lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Every statement of `code` (split at `;`, whitespace squeezed) that `rule` flags, as
    /// `path: statement`, over the files under `src/<dir>`.
    fn offenders(dir: &str, rule: impl Fn(&str) -> bool) -> Vec<String> {
        let mut found = Vec::new();
        for (path, code) in sources(dir) {
            for statement in code.split(';') {
                let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
                if rule(&statement) {
                    found.push(format!("{}: {}", path.display(), statement.trim()));
                }
            }
        }
        found
    }

    /// The items named right after each `<root>::` in `code`: `a` in `root::a::b`, `a` and `b`
    /// in `root::{a, b::c}` (so a grouped import is seen like a plain one).
    fn named_after<'a>(code: &'a str, root: &str) -> Vec<&'a str> {
        let is_ident = |c: char| c.is_alphanumeric() || c == '_';
        let mut names = Vec::new();
        for (at, _) in code.match_indices(root) {
            let rest = code[at + root.len()..].trim_start();
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 0;
                let mut item_start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if is_ident(c) && item_start && depth == 0 => {
                            let end = group[i..]
                                .find(|c: char| !is_ident(c))
                                .unwrap_or(group.len() - i);
                            names.push(&group[i..i + end]);
                            item_start = false;
                        }
                        c if !c.is_whitespace() => item_start = false,
                        _ => {}
                    }
                }
            } else {
                let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
                names.push(&rest[..end]);
            }
        }
        names
    }

    // The needles are spelt in two halves so these tests do not find themselves.

    /// Names the Score modules (`crate::modules::x`, `crate::{a, modules::x}`, `super::modules`).
    fn names_modules(statement: &str) -> bool {
        statement.contains(concat!("modules", "::"))
            || named_after(statement, "crate::").contains(&"modules")
    }

    /// Re-exports or aliases an adapter type (`pub use crate::infra::..`, `pub use
    /// crate::{infra::..}`, `pub type X = crate::infra::..`).
    fn reexports_adapters(statement: &str) -> bool {
        ["pub use ", "pub type "].iter().any(|kw| {
            statement.match_indices(kw).any(|(at, _)| {
                let tail = &statement[at..];
                tail.contains(concat!("infra", "::"))
                    || named_after(tail, "crate::").contains(&"infra")
            })
        })
    }

    /// Reads or writes the process-wide configuration (`harmony_config::get_or_prompt`, the
    /// same in a `use` group, `harmony_config::manager()`, ...).
    fn reads_global_config(statement: &str) -> bool {
        const GLOBAL: [&str; 9] = [
            "get",
            "get_with_source",
            "get_or_prompt",
            "get_or_prompt_with_source",
            "set",
            "reset",
            "init",
            "manager",
            "default_manager",
        ];
        named_after(statement, concat!("harmony_config", "::"))
            .iter()
            .any(|name| GLOBAL.contains(name))
    }

    /// Names the crate or module `root` as a path's first segment (`root::x`, `::root::x`,
    /// `use root::{..}`), not as a later segment (`crate::infra::root::x`); in an import also
    /// the bare crate (`use root as alias`, `extern crate root`), whose alias would otherwise
    /// hide every later use.
    fn names_root(statement: &str, root: &str) -> bool {
        let is_ident = |c: char| c.is_alphanumeric() || c == '_';
        let is_import = statement
            .split(|c: char| !is_ident(c))
            .any(|word| word == "use" || word == "extern");
        statement.match_indices(root).any(|(at, _)| {
            let before = statement[..at].trim_end_matches("::");
            if before.ends_with(|c: char| is_ident(c) || c == ':') {
                return false;
            }
            let after = &statement[at + root.len()..];
            after.starts_with("::") || (is_import && !after.starts_with(is_ident))
        })
    }

    /// Sends HTTP itself (`reqwest`, OpenBao's raw HTTP helper `harmony_secret::openbao_http`)
    /// instead of calling an adapter in `infra/`.
    fn sends_http_itself(statement: &str) -> bool {
        names_root(statement, concat!("req", "west"))
            || statement.contains(concat!("openbao", "_http"))
    }

    /// Uses kube-rs (`kube::..`, `use kube as k`) or asks the topology for its raw client.
    fn uses_kube_rs(statement: &str) -> bool {
        names_root(statement, concat!("ku", "be"))
            || statement.contains(concat!("kube_client", "()"))
    }

    /// Names a Kubernetes or HTTP client crate (`kube`, `kube_*`, `k8s_openapi`, `reqwest`).
    fn names_client_crates(statement: &str) -> bool {
        [
            concat!("ku", "be"),
            concat!("ku", "be_client"),
            concat!("ku", "be_runtime"),
            concat!("ku", "be_core"),
            concat!("k8s", "_openapi"),
            concat!("req", "west"),
        ]
        .iter()
        .any(|root| names_root(statement, root))
    }

    /// The rules see the forms a violation takes, not only the plainest one.
    #[test]
    fn the_rules_see_grouped_imports_and_every_global_function() {
        for bad in [
            "use crate::modules::postgresql::cnpg",
            "use crate::{interpret::Outcome, modules::postgresql}",
            "use crate::{ interpret, modules }",
            "use super::super::modules::sso_stack",
        ] {
            assert!(names_modules(bad), "{bad}");
        }
        assert!(!names_modules(
            "use crate::{interpret::Outcome, topology::Topology}"
        ));
        for bad in [
            "pub use crate::infra::k8s::K8sClient",
            "pub use crate::{ infra::k8s::K8sClient }",
            "pub type K8sClient = crate::infra::k8s::K8sClient",
            "} pub use crate::{ infra::k8s::K8sClient }",
        ] {
            assert!(reexports_adapters(bad), "{bad}");
        }
        assert!(!reexports_adapters("use crate::infra::k8s::K8sClient"));
        for bad in [
            "let c = HC::get_or_prompt::<X>().await?",
            "use HC::{Config, get_or_prompt}",
            "use HC::{ Config, get }",
            "let m = HC::manager().await?",
            "let m = HC::default_manager().await?",
            "HC::reset::<X>().await?",
            "HC::set(&x).await?",
        ] {
            let bad = bad.replace("HC", concat!("harmony_", "config"));
            assert!(reads_global_config(&bad), "{bad}");
        }
        for bad in [
            "use RQ::Method",
            "let c = RQ::Client::new()",
            ".header(RQ::header::HOST, &host)",
            "use harmony_secret::OH::errors_of",
            "use harmony_secret::{SecretString, OH::{OpenbaoHttp, errors_of}}",
            "use RQ as http",
            "use ::RQ as http",
            "use {RQ as http, std::fmt}",
            "extern crate RQ as http",
            "pub(crate) use RQ",
        ] {
            let bad = bad
                .replace("RQ", concat!("req", "west"))
                .replace("OH", concat!("openbao", "_http"));
            assert!(sends_http_itself(&bad), "{bad}");
            assert!(
                names_client_crates(&bad) || bad.contains("harmony_secret"),
                "{bad}"
            );
        }
        for bad in [
            "use KB::api::Api",
            "source: KB::Error",
            "impl From<KB::Error> for X",
            "use KO::api::core::v1::Secret",
            "use KB_runtime::wait",
            "use KB as k8s",
            "use KB_runtime as rt",
        ] {
            let bad = bad
                .replace("KB", concat!("ku", "be"))
                .replace("KO", concat!("k8s", "_openapi"));
            assert!(names_client_crates(&bad), "{bad}");
            if bad.starts_with(concat!("use ", "ku", "be ")) || bad.contains("Api") {
                assert!(uses_kube_rs(&bad), "{bad}");
            }
        }
        for fine in [
            "use crate::infra::k8s::K8sClient",
            "source: crate::infra::k8s::K8sError",
            "source: crate::infra::http_error::HttpClientError",
            "use crate::infra::zitadel_api::ZitadelReadiness",
            "use crate::topology::{K8sClient, kube_client_of}",
        ] {
            assert!(!names_client_crates(fine), "{fine}");
            assert!(!sends_http_itself(fine), "{fine}");
        }
        for fine in [
            "use HC::{Config, ConfigManager}",
            "let n = HC::env_var_name(<X as HC::Config>::KEY)",
        ] {
            let fine = fine.replace("HC", concat!("harmony_", "config"));
            assert!(!reads_global_config(&fine), "{fine}");
        }
    }

    /// Scores reach the cluster through the topology's capabilities (`K8sClient`, ...), never
    /// through kube-rs directly, so a capability can be faked, logged or swapped in one place.
    #[test]
    fn modules_do_not_use_kube_rs_directly() {
        let found = offenders("modules", uses_kube_rs);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// Scores send no HTTP themselves: the OpenBao, Zitadel and other HTTP APIs are reached
    /// through adapters in `infra/` (`openbao_admin`, `openbao_cluster`, `openbao_transit`,
    /// `zitadel_api`), which can be tested against a real or fake server in one place.
    #[test]
    fn modules_do_not_send_http_themselves() {
        let found = offenders("modules", sends_http_itself);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// The domain (`score`, `interpret`, `topology`, `inventory`, `plan`) names no Kubernetes or
    /// HTTP client crate: it reaches them through adapter types. Naming an adapter's *error
    /// type* through `crate::infra::...` (as `topology/capability_error.rs` does for
    /// `K8sError`, `HelmError` and `HttpClientError`) is allowed: it keeps the cause typed.
    #[test]
    fn the_domain_names_no_client_crate() {
        let mut found = Vec::new();
        for part in [
            "score.rs",
            "interpret.rs",
            "topology",
            "inventory.rs",
            "plan.rs",
        ] {
            found.extend(offenders(part, names_client_crates));
        }
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// Adapters never call Scores: what composes Scores lives in `modules/` (e.g.
    /// `modules::sso_stack`, `modules::postgresql::cnpg`).
    #[test]
    fn infra_does_not_name_modules() {
        let found = offenders("infra", names_modules);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// Adapters return their own errors (`K8sError`, `CapabilityError`, ...); the conversion
    /// into the domain's error lives in `interpret.rs`.
    #[test]
    fn infra_does_not_name_the_interpret_error() {
        let found = offenders("infra", |s| s.contains(concat!("Interpret", "Error")));
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// The domain does not re-export adapter types: callers import them from `harmony::infra`.
    #[test]
    fn topology_does_not_reexport_adapters() {
        let found = offenders("topology", reexports_adapters);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// Scores never read the global configuration themselves (nor prompt from inside a run):
    /// the caller passes values in (e.g. `OpenbaoSetupScore::userpass_credentials`).
    #[test]
    fn modules_do_not_read_the_global_config() {
        let found = offenders("modules", reads_global_config);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}
