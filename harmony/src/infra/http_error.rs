//! Transport errors of `reqwest` as a sentence that says why: reqwest's own message is only
//! "error sending request"; the cause (refused, reset, timed out) is in its source chain.

/// The HTTP client's error, as [`crate::topology::CapabilityError::Unreachable`] carries it:
/// the domain names it through this adapter path, not the HTTP crate.
pub type HttpClientError = reqwest::Error;

/// The error without its URL (it may carry query parameters), followed by each cause.
pub(crate) fn transport_message(e: reqwest::Error) -> String {
    let timed_out = e.is_timeout();
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if timed_out && !message.contains("timed out") {
        message.push_str(" (timed out)");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let port = harmony_test_support::free_port();
        let e = reqwest::Client::new()
            .get(format!(
                "http://127.0.0.1:{port}/v1/sys/init?token=QUERYSECRET"
            ))
            .send()
            .await
            .unwrap_err();
        let message = transport_message(e);
        assert!(message.starts_with("error sending request"), "{message}");
        assert!(message.to_lowercase().contains("refused"), "{message}");
        assert!(!message.contains("QUERYSECRET"), "{message}");
    }
}
