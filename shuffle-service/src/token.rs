//! Job tokens: the shuffle service serves a job's partitions only to
//! holders of that job's token, an HMAC-SHA256 of the job id under the
//! cluster secret. Whoever registers shuffles (the scheduler) issues them;
//! the service only verifies, in constant time.

use ring::hmac;

/// The cluster secret tokens are derived from.
#[derive(Clone)]
pub struct ClusterSecret(hmac::Key);

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

impl ClusterSecret {
    /// A secret from raw bytes (e.g. the contents of a secret file).
    pub fn new(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// The token for `job`, hex-encoded.
    pub fn token(&self, job: &str) -> String {
        hmac::sign(&self.0, job.as_bytes())
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Whether `token` is `job`'s token.
    pub fn verify(&self, job: &str, token: &str) -> bool {
        match decode_hex(token) {
            Some(tag) => hmac::verify(&self.0, job.as_bytes(), &tag).is_ok(),
            None => false,
        }
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_job_and_secret() {
        let secret = ClusterSecret::new(b"cluster secret");
        let token = secret.token("job-1");
        assert!(secret.verify("job-1", &token));
        assert!(!secret.verify("job-2", &token));
        assert!(!ClusterSecret::new(b"other").verify("job-1", &token));
        assert!(!secret.verify("job-1", "not hex"));
        assert!(!secret.verify("job-1", ""));
        assert!(!secret.verify("job-1", "é1"));
    }
}
