//! Helm-based Scores.

pub mod chart;
mod chart_plan;

pub use chart::{HelmChartScore, HelmRepository};

/// The name most charts give their resources (their `fullname` template): the release name when
/// it already contains the chart name, else `<release>-<chart>`.
pub(crate) fn chart_fullname(release: &str, chart: &str) -> String {
    if release.contains(chart) {
        release.to_string()
    } else {
        format!("{release}-{chart}")
    }
}

#[cfg(test)]
mod tests {
    use super::chart_fullname;

    #[test]
    fn fullname_is_the_release_when_it_names_the_chart() {
        assert_eq!(chart_fullname("openbao", "openbao"), "openbao");
        assert_eq!(chart_fullname("team-openbao", "openbao"), "team-openbao");
        assert_eq!(chart_fullname("sso", "zitadel"), "sso-zitadel");
    }
}
