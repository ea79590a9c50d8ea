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

    /// Every code line (comments dropped) of the `.rs` files under `src/<dir>` containing one of
    /// `needles`, as `path:line: code`.
    fn offenders(dir: &str, needles: &[&str]) -> Vec<String> {
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
        visit(&root, &mut files);
        let mut found = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if needles.iter().any(|n| code.contains(n)) {
                    found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        }
        found
    }

    // The needles are spelt in two halves so these tests do not find themselves.

    /// Scores reach the cluster through the topology's capabilities (`K8sClient`, ...), never
    /// through kube-rs directly, so a capability can be faked, logged or swapped in one place.
    #[test]
    fn modules_do_not_use_kube_rs_directly() {
        let found = offenders(
            "modules",
            &[concat!("kube", "::"), concat!("kube_client", "()")],
        );
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// Adapters never call Scores: what composes Scores lives in `modules/` (e.g.
    /// `modules::sso_stack`, `modules::postgresql::cnpg`).
    #[test]
    fn infra_does_not_name_modules() {
        let found = offenders("infra", &[concat!("crate::", "modules")]);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// Adapters return their own errors (`K8sError`, `CapabilityError`, ...); the conversion
    /// into the domain's error lives in `interpret.rs`.
    #[test]
    fn infra_does_not_name_the_interpret_error() {
        let found = offenders("infra", &[concat!("Interpret", "Error")]);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// The domain does not re-export adapter types: callers import them from `harmony::infra`.
    #[test]
    fn topology_does_not_reexport_adapters() {
        let found = offenders("topology", &[concat!("pub use crate::", "infra")]);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// Scores never read the global configuration themselves (nor prompt from inside a run):
    /// the caller passes values in (e.g. `OpenbaoSetupScore::userpass_credentials`).
    #[test]
    fn modules_do_not_read_the_global_config() {
        let found = offenders(
            "modules",
            &[
                concat!("harmony_config::", "get"),
                concat!("harmony_config::", "set("),
                concat!("harmony_config::", "init"),
            ],
        );
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}
