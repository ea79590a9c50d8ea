//! Concrete Scores, one folder per product or concern.

pub mod helm;
pub mod k8s;
pub mod openbao;
pub mod postgresql;
pub mod sso_stack;
pub mod zitadel;

#[cfg(test)]
mod tests {
    /// Scores reach the cluster through the topology's capabilities (`K8sClient`, ...), never
    /// through kube-rs directly, so a capability can be faked, logged or swapped in one place.
    #[test]
    fn modules_do_not_use_kube_rs_directly() {
        fn visit(dir: &std::path::Path, offenders: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, offenders);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or("");
                        // Spelt in two halves so this test does not find itself.
                        let needles = [concat!("kube", "::"), concat!("kube_client", "()")];
                        if needles.iter().any(|n| code.contains(n)) {
                            offenders.push(format!(
                                "{}:{}: {}",
                                path.display(),
                                i + 1,
                                line.trim()
                            ));
                        }
                    }
                }
            }
        }
        let modules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/modules");
        let mut offenders = Vec::new();
        visit(&modules, &mut offenders);
        assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    }
}
