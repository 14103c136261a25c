//! Who may call a process's HTTP endpoints. The REST API submits code
//! that runs on the workers, and `/metrics` lists job ids, so in a
//! cluster both want a bearer token; serving them to anyone takes an
//! explicit choice ([`ApiAccess::Open`], from `--insecure-no-auth`).
//! The comparison of a presented token is constant-time.

/// The bearer token requests must present.
#[derive(Clone)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(…)")
    }
}

/// Why a token cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Empty (or only whitespace): every request would be refused, or —
    /// worse — a client sending no token would look like it sent this one.
    #[error("the API token is empty")]
    Empty,
    /// Characters an HTTP header cannot carry.
    #[error("the API token holds characters an HTTP header cannot carry (use printable ASCII)")]
    NotPrintable,
}

impl ApiToken {
    /// `text` as a token; surrounding whitespace (a file's final newline)
    /// is not part of it.
    pub fn new(text: &str) -> Result<Self, TokenError> {
        let token = text.trim();
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        Ok(Self(token.to_string()))
    }

    /// The token, to send.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether an `Authorization` header value carries this token.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let given = authorization.and_then(|v| v.strip_prefix("Bearer "));
        given.is_some_and(|given| {
            given.len() == self.0.len()
                && given
                    .bytes()
                    .zip(self.0.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }
}

/// Whether an endpoint wants a token.
#[derive(Debug, Clone)]
pub enum ApiAccess {
    /// Requests must carry this bearer token.
    Token(ApiToken),
    /// Anyone who can reach the address may call (`--insecure-no-auth`,
    /// or a local process bound to loopback).
    Open,
}

impl ApiAccess {
    /// Whether a request with this `Authorization` header may proceed.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        match self {
            Self::Token(token) => token.allows(authorization),
            Self::Open => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_compared_whole_and_must_not_be_empty() {
        let token = ApiToken::new("s3cret-token\n").unwrap();
        assert!(token.allows(Some("Bearer s3cret-token")));
        assert!(!token.allows(Some("Bearer s3cret-toke")));
        assert!(!token.allows(Some("Bearer s3cret-token2")));
        assert!(!token.allows(Some("s3cret-token")));
        assert!(!token.allows(None));
        assert_eq!(ApiToken::new("").unwrap_err(), TokenError::Empty);
        assert_eq!(ApiToken::new("  \n").unwrap_err(), TokenError::Empty);
        assert_eq!(ApiToken::new("a b").unwrap_err(), TokenError::NotPrintable);
        assert!(ApiAccess::Open.allows(None));
    }
}
